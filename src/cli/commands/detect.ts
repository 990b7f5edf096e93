// retrieval-lens detect: the paper's retrieval-head detection over a needle-in-a-haystack grid.
import { runDetection, DEFAULT_DEPTHS, DETECTION_NEEDLES, defaultLengths } from '../../method/detect.js';
import { readNeedlesFile } from '../../method/needles.js';
import { checkOutputPath, toReferenceFormat, writeFilesAtomic } from '../../method/formats.js';
import { parseArgs, parseIntList, parseNumberList, UsageError } from '../args.js';
import { checkModelFlags, checkTemplateFlag, DEPTH_RANGE, FLAGS, LENGTH_RANGE, MODEL_FLAGS, openModel, readHaystacks } from '../common.js';
import { progressLine } from '../progress.js';
import type { Command } from '../io.js';

const HELP = `usage: retrieval-lens detect [--model DIR|hf:OWNER/NAME] [--haystack FILE...] [--needles-file F.jsonl]
    [--lengths 256,512] [--depths 0,25,50,75,100] [--template T] [--max-new-tokens 50]
    [--threshold 0.1] [--out scores.json] [--format retrieval-head] [--json] [--dtype D] [--needle-bos]
Default haystack: the bundled public-domain Shakespeare text. Default needles: the first three of
the bundled made-up facts (data/needles.jsonl shows the --needles-file format: one JSON object a
line, {"needle", "question", "real_needle"} and an optional "id"). Default lengths: five from 256
tokens up to the model's context or the haystack's length. --format retrieval-head also writes
<out>.retrieval-head.json in the reference code's {"layer-head": [scores per counted case]} format.
--needle-bos puts a BOS token before the needle, as the reference code's tokenization does.
A needle goes after the sentence end at or before its depth (the reference's rule), or the next one
when no sentence ends before it; each case records the depth it really used (needleDepth).
`;

/** The second file of --format retrieval-head, beside --out. */
export function referencePath(out: string): string {
  return `${out.replace(/\.json$/, '')}.retrieval-head.json`;
}

export const run: Command = async (argv, io) => {
  const { flags, help } = parseArgs(argv, {
    ...MODEL_FLAGS,
    haystack: { type: 'list', variadic: true },
    'needles-file': { type: 'string' },
    lengths: { type: 'string' },
    depths: { type: 'string' },
    template: { type: 'string' },
    'max-new-tokens': FLAGS.maxNewTokens,
    threshold: FLAGS.threshold,
    out: { type: 'string' },
    format: { type: 'string', choices: ['retrieval-head'] },
    json: { type: 'boolean' },
    'needle-bos': { type: 'boolean' },
  });
  if (help) {
    io.stdout(HELP);
    return 0;
  }
  // How it was called first (exit 2), then what it was given (exit 1).
  checkModelFlags(flags);
  if (flags.format && !flags.out) throw new UsageError('--format retrieval-head writes a second file beside --out: give --out too');
  const lengthsFlag = flags.lengths ? parseIntList(flags.lengths as string, '--lengths', LENGTH_RANGE) : undefined;
  const depths = flags.depths ? parseNumberList(flags.depths as string, '--depths', DEPTH_RANGE) : DEFAULT_DEPTHS;
  const template = checkTemplateFlag(flags.template as string | undefined);
  const out = flags.out as string | undefined;
  const outputs = out ? [out, ...(flags.format === 'retrieval-head' ? [referencePath(out)] : [])] : [];
  for (const path of outputs) checkOutputPath(path);
  const haystack = readHaystacks(flags.haystack as string[] | undefined);
  const needles = flags['needles-file'] ? readNeedlesFile(flags['needles-file'] as string) : undefined;
  const model = await openModel(flags, io);
  try {
    const hayTokens = model.tokenizer.encode(haystack.join('\n\n').slice(0, 200_000), { addSpecialTokens: false }).length;
    const lengths = lengthsFlag ?? defaultLengths(model.info.contextLength, hayTokens);
    const nNeedles = needles?.length ?? DETECTION_NEEDLES;
    io.stderr(`detecting retrieval heads of ${model.info.id}: ${lengths.length} lengths x ${depths.length} depths x ${nNeedles} needles = ${lengths.length * depths.length * nNeedles} cases\n`);
    const where = (c: { depth: number; needleDepth?: number }) => (c.needleDepth !== undefined && Math.abs(c.needleDepth - c.depth) >= 1 ? ` (needle at ${c.needleDepth}%)` : '');
    const scores = await runDetection(
      model,
      { haystack, needles, lengths, depths, maxNewTokens: flags['max-new-tokens'] as number | undefined, threshold: flags.threshold as number | undefined, template, needleBos: Boolean(flags['needle-bos']) },
      { signal: io.signal, onProgress: (p) => io.stderr(progressLine(p.done, p.total, p.etaMs, p.last ? `${p.last.length} tokens, depth ${p.last.depth}%${where(p.last)}: ${p.last.success ? 'retrieved' : 'failed'}` : '')) },
    );
    // Written only after the whole grid ran, both files or neither; a cancelled run leaves no file behind.
    if (out) {
      writeFilesAtomic([
        { path: out, data: JSON.stringify(scores, null, 1) },
        ...(flags.format === 'retrieval-head' ? [{ path: referencePath(out), data: JSON.stringify(toReferenceFormat(scores)) }] : []),
      ]);
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

