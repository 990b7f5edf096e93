// retrieval-lens ablate --help
import { JSON_OPTION, MODEL_OPTIONS, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: 'NIAH accuracy with the top-k retrieval heads vs k random other heads masked.',
  usage: '--scores scores.json [options]',
  options: [
    ...MODEL_OPTIONS,
    ['--scores FILE', 'the scores file of a detection run (required)'],
    ['--k K,K,...', 'numbers of heads to mask (default: 1,2,4,8)'],
    ['--random-trials N', 'random head sets drawn per k (default: 5)'],
    ['--seed S', 'seed of the random draws, 0..4294967295 (default: 1)'],
    ['--haystack FILE...', 'haystack texts (default: the bundled public-domain Shakespeare)'],
    ['--needles-file F.jsonl', 'needles (default: bundled needles the detection did not use)'],
    ['--lengths L,L,...', "context lengths in tokens (default: the detection's)"],
    ['--depths D,D,...', "needle depths in percent (default: halfway between the detection's depths)"],
    ['--max-new-tokens N', 'tokens generated per case (default: 50)'],
    ['--mask-mode uniform|zero', "uniform: a masked head attends uniformly (default, the paper's); zero: its output is 0"],
    ['--mask-scope decode|all', "decode: masks apply to generated tokens only (default, the paper's); all: also the prompt"],
    ['--out FILE', 'write the ablation result as JSON'],
    JSON_OPTION,
  ],
  notes: [
    "Fresh cases: needles the detection run did not use, at depths halfway between its depths, so no case repeats a detection prompt. Every case runs with no mask, then per k with the top-k heads masked and with k random non-retrieval heads masked per trial. Success is reported two ways: ROUGE-1 recall > 50% (the paper's) and the exact answer.",
  ],
};
