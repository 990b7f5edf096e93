// retrieval-lens detect: the paper's retrieval-head detection over a needle-in-a-haystack grid.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, RetrievalLensError } from '../../engine/index.js';
import { runDetection, DEFAULT_DEPTHS, DETECTION_NEEDLES, defaultLengths } from '../../method/detect.js';
import { readNeedlesFile } from '../../method/needles.js';
import { checkOutputPath, toReferenceFormat, writeFileAtomic } from '../../method/formats.js';
import { parseArgs, parseIntList, UsageError } from '../args.js';
import { defaultModelDir, packageRoot } from '../defaults.js';
import { progressLine } from '../progress.js';
import type { Command } from '../io.js';

const HELP = `usage: retrieval-lens detect [--model DIR|HUB_ID] [--haystack FILE...] [--needles-file F.jsonl]
    [--lengths 256,512] [--depths 0,25,50,75,100] [--template T] [--max-new-tokens 50]
    [--threshold 0.1] [--out scores.json] [--format retrieval-head] [--json] [--dtype D] [--needle-bos]
Default haystack: the bundled public-domain Shakespeare text. Default needles: the first three of
the bundled made-up facts (data/needles.jsonl shows the --needles-file format: one JSON object a
line, {"needle", "question", "real_needle"} and an optional "id"). Default lengths: five from 256
tokens up to the model's context or the haystack's length. --format retrieval-head also writes
<out>.retrieval-head.json in the reference code's {"layer-head": [scores per counted case]} format.
--needle-bos puts a BOS token before the needle, as the reference code's tokenization does.
`;

export function readHaystacks(files: string[] | undefined): string[] {
  const paths = files?.length ? files : [join(packageRoot(), 'data', 'haystack', 'shakespeare.txt')];
  return paths.map((p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new RetrievalLensError('BAD_INPUT', `cannot read haystack ${p}: ${(e as Error).message}`);
    }
  });
}

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    model: { type: 'string' },
    dtype: { type: 'string' },
    haystack: { type: 'list', variadic: true },
    'needles-file': { type: 'string' },
    lengths: { type: 'string' },
    depths: { type: 'string' },
    template: { type: 'string' },
    'max-new-tokens': { type: 'number' },
    threshold: { type: 'number' },
    out: { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean' },
    'needle-bos': { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (flags.help) {
    io.stdout(HELP);
    return 0;
  }
  if (flags.format && flags.format !== 'retrieval-head') throw new UsageError(`--format takes "retrieval-head", got "${flags.format}"`);
  if (flags.format && !flags.out) throw new UsageError('--format retrieval-head writes a second file beside --out: give --out too');
  if (flags.out) checkOutputPath(flags.out as string);
  const haystack = readHaystacks(flags.haystack as string[] | undefined);
  const needles = flags['needles-file'] ? readNeedlesFile(flags['needles-file'] as string) : undefined;
  const model = await loadModel((flags.model as string) ?? defaultModelDir(), { dtype: flags.dtype as string | undefined });
  try {
    const hayTokens = model.tokenizer.encode(haystack.join('\n\n').slice(0, 200_000), { addSpecialTokens: false }).length;
    const lengths = flags.lengths ? parseIntList(flags.lengths as string, '--lengths') : defaultLengths(model.info.contextLength, hayTokens);
    const depths = flags.depths ? parseIntList(flags.depths as string, '--depths') : DEFAULT_DEPTHS;
    const nNeedles = needles?.length ?? DETECTION_NEEDLES;
    io.stderr(`detecting retrieval heads of ${model.info.id}: ${lengths.length} lengths x ${depths.length} depths x ${nNeedles} needles = ${lengths.length * depths.length * nNeedles} cases\n`);
    const scores = await runDetection(
      model,
      { haystack, needles, lengths, depths, maxNewTokens: flags['max-new-tokens'] as number | undefined, threshold: flags.threshold as number | undefined, template: flags.template as string | undefined, needleBos: Boolean(flags['needle-bos']) },
      { signal: io.signal, onProgress: (p) => io.stderr(progressLine(p.done, p.total, p.etaMs, p.last ? `${p.last.length} tokens, depth ${p.last.depth}%: ${p.last.success ? 'retrieved' : 'failed'}` : '')) },
    );
    // Written only after the whole grid ran; a cancelled run leaves no file behind.
    if (flags.out) {
      writeFileAtomic(flags.out as string, JSON.stringify(scores, null, 1));
      if (flags.format === 'retrieval-head') writeFileAtomic(`${(flags.out as string).replace(/\.json$/, '')}.retrieval-head.json`, JSON.stringify(toReferenceFormat(scores)));
    }
    if (flags.json) {
      io.stdout(JSON.stringify(scores) + '\n');
      return 0;
    }
    const s = scores.summary;
    const lines = [
      `counted cases ${s.countedCases} of ${scores.cases.length} (${s.failedCases} failed to retrieve the needle)`,
      `retrieval heads (score >= ${scores.settings.threshold}): ${scores.retrievalHeads.length} of ${model.info.layers * model.info.heads} (${(100 * s.fractionRetrieval).toFixed(1)}%)`,
      ...scores.retrievalHeads.slice(0, 20).map(([l, h, v]) => `  layer ${l} head ${h}: ${v.toFixed(3)}`),
      `active in every counted case: ${s.alwaysActive.map(([l, h]) => `${l}-${h}`).join(', ') || 'none'}`,
      'NIAH accuracy (rows: length, columns: depth %):',
      `  ${'len'.padStart(6)} ${s.accuracy.depths.map((d) => String(d).padStart(6)).join('')}`,
      ...s.accuracy.lengths.map((len, i) => `  ${String(len).padStart(6)} ${s.accuracy.values[i].map((v) => v.toFixed(2).padStart(6)).join('')}`),
    ];
    if (flags.out) lines.push(`wrote ${flags.out}`);
    io.stdout(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};

