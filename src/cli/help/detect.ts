// retrieval-lens detect --help
import { JSON_OPTION, MODEL_OPTIONS, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: 'Find retrieval heads with the needle-in-a-haystack grid (Wu et al., ICLR 2025).',
  usage: '[options]',
  options: [
    ...MODEL_OPTIONS,
    ['--haystack FILE...', 'haystack texts (default: the bundled public-domain Shakespeare)'],
    ['--needles-file F.jsonl', 'needles, one JSON object a line (default: the first three bundled ones)'],
    ['--lengths L,L,...', "context lengths in tokens (default: five from 256 up to the model's context or the haystack's length)"],
    ['--depths D,D,...', 'needle depths in percent (default: 0,25,50,75,100)'],
    ['--template T', "prompt template with {context} and {question} (default: the model's own, else a plain one)"],
    ['--max-new-tokens N', 'tokens generated per case (default: 50)'],
    ['--threshold X', "heads scoring at or above X are retrieval heads (default: 0.1, the paper's)"],
    ['--out FILE', 'write the scores file (and keep <out>.partial.json while the grid runs)'],
    ['--format retrieval-head', "also write <out>.retrieval-head.json in the reference code's format"],
    ['--needle-bos', "put a BOS token before the needle, as the reference code's tokenization does"],
    ['--resume', 'continue an interrupted run from <out>.partial.json'],
    ['--shard i/n', 'run one deterministic slice of the grid and write it as a part to --out'],
    ['--device cpu|cuda|dml|coreml', "onnxruntime's execution provider (default: cpu)"],
    [
      '--method paper|qrhead|echo|induction',
      'how heads are scored (default: paper); every method writes this scores file, with settings.method',
    ],
    ['--block-length N', 'echo/induction: distinct random tokens per block (default: 128, shrunk to fit a small context or vocabulary)'],
    ['--repeats N', 'echo/induction: copies of the block in a sequence (default: 2)'],
    ['--trials N', 'echo/induction: sequences, seeded --seed, --seed + 1, ... (default: 3)'],
    ['--seed N', 'echo/induction: seed of the first sequence (default: 1)'],
    JSON_OPTION,
  ],
  notes: [
    'Needles file format (data/needles.jsonl shows it): one JSON object a line with "needle", "question", "real_needle" and an optional "id".',
    "A needle goes after the sentence end at or before its depth (the reference's rule), or the next one when no sentence ends before it; each case records the depth it really used (needleDepth).",
    'With --out, the cases done so far are kept in <out>.partial.json after each case: an interrupted run (Ctrl-C, a crash) continues with --resume. --shard i/n deals whole length x depth cells round-robin; "retrieval-lens merge PART..." combines the n parts into exactly the scores file one unsharded run writes.',
    "Methods: paper, the paper's rule over greedy decoding of every case; qrhead, QRHead's query-focused score over the same grid (the attention mass the question's tokens put on the needle, averaged over the question's tokens and the cases; nothing is generated, so every case counts and there is no accuracy table); echo, RazorAttention's echo heads (attention on earlier occurrences of the current token); induction, attention on the token after each earlier occurrence. echo and induction score every query from the block's second copy on.",
    'Progress goes to stderr: one updating line on a terminal, one line per case when stderr is piped.',
  ],
};
