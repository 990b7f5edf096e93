// retrieval-lens detect --method qrhead|echo|induction: the detectors beside the paper's. They
// write the same scores file (settings.method says which), from the same grid (qrhead) or from
// repeated random-token sequences (echo, induction).
import { DEFAULT_DEPTHS, defaultLengths, detectionNeedles, scoresModel } from '../../method/detect.js';
import { summarize } from '../../method/aggregate.js';
import { patternSettings, qrheadSettings, runPatternDetection, runQrheadGrid } from '../../method/detectors/run.js';
import { readNeedlesFile } from '../../method/needles.js';
import { checkOutputPath, toReferenceFormat, writeFilesAtomic } from '../../method/formats.js';
import { DEFAULT_THRESHOLD } from '../../method/defaults.js';
import type { DetectionMethod, ScoresFile } from '../../method/types.js';
import { executionProviders } from '../device.js';
import { parseIntList, parseNumberList, UsageError } from '../args.js';
import { checkModelFlags, checkTemplateFlag, DEPTH_RANGE, LENGTH_RANGE, openModel, readHaystacks } from '../common.js';
import { progressLine } from '../progress.js';
import type { CliIO } from '../io.js';

/** Flags of detect that only some methods read. */
export const METHOD_FLAGS = {
  method: { type: 'string', choices: ['paper', 'qrhead', 'echo', 'induction'] },
  'block-length': { type: 'int', min: 2, max: 1_000_000 },
  repeats: { type: 'int', min: 2, max: 1000 },
  trials: { type: 'int', min: 1, max: 10_000 },
  seed: { type: 'int', min: 0, max: Number.MAX_SAFE_INTEGER },
} as const;

const PAPER_ONLY = ['max-new-tokens', 'resume', 'shard'];
const GRID = ['lengths', 'depths', 'haystack', 'needles-file', 'template', 'needle-bos'];
const SEQUENCE = ['block-length', 'repeats', 'trials', 'seed'];

/** Usage errors (exit 2) for flags the chosen method does not read. */
export function checkMethodFlags(method: DetectionMethod, flags: Record<string, unknown>): void {
  const given = (names: string[]) => names.filter((n) => flags[n] !== undefined);
  const what: Record<DetectionMethod, string> = {
    paper: 'the paper method decodes a needle grid',
    qrhead: 'qrhead reads the question of each needle case and generates nothing',
    echo: 'echo reads repeated random-token sequences, not a needle grid',
    induction: 'induction reads repeated random-token sequences, not a needle grid',
  };
  const bad =
    method === 'paper'
      ? given(SEQUENCE)
      : method === 'qrhead'
        ? [...given(PAPER_ONLY), ...given(SEQUENCE)]
        : [...given(PAPER_ONLY), ...given(GRID)];
  if (bad.length)
    throw new UsageError(
      `${bad.map((b) => `--${b}`).join(', ')} ${bad.length > 1 ? 'do' : 'does'} not apply to --method ${method}: ${what[method]}`,
    );
}

export interface MethodFlags {
  model?: string;
  dtype?: string;
  haystack?: string[];
  'needles-file'?: string;
  lengths?: string;
  depths?: string;
  template?: string;
  threshold?: number;
  out?: string;
  format?: string;
  json?: boolean;
  'needle-bos'?: boolean;
  device?: string;
  'block-length'?: number;
  repeats?: number;
  trials?: number;
  seed?: number;
}

/** The second file of --format retrieval-head, beside --out. */
const referencePath = (out: string) => `${out.replace(/\.json$/, '')}.retrieval-head.json`;

export async function runMethod(method: Exclude<DetectionMethod, 'paper'>, flags: MethodFlags, io: CliIO): Promise<number> {
  checkModelFlags(flags);
  const lengthsFlag = flags.lengths ? parseIntList(flags.lengths, '--lengths', LENGTH_RANGE) : undefined;
  const depths = flags.depths ? parseNumberList(flags.depths, '--depths', DEPTH_RANGE) : DEFAULT_DEPTHS;
  const template = checkTemplateFlag(flags.template);
  const out = flags.out;
  const outputs = out ? [out, ...(flags.format === 'retrieval-head' ? [referencePath(out)] : [])] : [];
  for (const path of outputs) checkOutputPath(path);
  const providers = executionProviders(flags.device);
  const grid = method === 'qrhead';
  const haystack = grid ? readHaystacks(flags.haystack) : [];
  const needlesArg = grid && flags['needles-file'] ? readNeedlesFile(flags['needles-file']) : undefined;
  const model = await openModel(flags, io, { executionProviders: providers });
  try {
    const t0 = Date.now();
    const onProgress = (p: { done: number; total: number; etaMs: number }, detail: string) =>
      io.stderr(progressLine(p.done, p.total, p.etaMs, detail));
    let scores: ScoresFile;
    if (grid) {
      const hayTokens = model.tokenizer.encode(haystack.join('\n\n').slice(0, 200_000), { addSpecialTokens: false }).length;
      const lengths = lengthsFlag ?? defaultLengths(model.info.contextLength, hayTokens);
      const opts = {
        haystack,
        needles: needlesArg,
        lengths,
        depths,
        threshold: flags.threshold,
        template,
        needleBos: Boolean(flags['needle-bos']),
      };
      const needles = detectionNeedles(opts);
      io.stderr(
        `qrhead scores of ${model.info.id}: ${lengths.length} lengths x ${depths.length} depths x ${needles.length} needles = ${lengths.length * depths.length * needles.length} cases, the question's attention on the needle (no generation)\n`,
      );
      const cases = await runQrheadGrid(
        model,
        opts,
        { signal: io.signal, onProgress: (p) => onProgress(p, p.last ? `${p.last.length} tokens, depth ${p.last.depth}%` : '') },
        needles,
      );
      scores = summarize(scoresModel(model), qrheadSettings(model, opts, needles), cases, flags.threshold ?? DEFAULT_THRESHOLD);
    } else {
      const popts = {
        blockLength: flags['block-length'],
        repeats: flags.repeats,
        trials: flags.trials,
        seed: flags.seed,
        threshold: flags.threshold,
      };
      patternSettings(model, method, popts); // a recipe the model cannot take fails before anything is printed
      io.stderr(`${method} scores of ${model.info.id}: repeated random-token sequences\n`);
      scores = await runPatternDetection(model, method, popts, {
        signal: io.signal,
        onProgress: (p) => onProgress(p, p.last ? `sequence ${p.last.needleId}, ${p.last.length} tokens` : ''),
      });
    }
    const seconds = (Date.now() - t0) / 1000;
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
    io.stdout(describeMethodScores(scores, seconds) + (out ? `\nwrote ${out}` : '') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
}

const RULES: Record<Exclude<DetectionMethod, 'paper'>, string> = {
  qrhead: "mean attention of the question's tokens on the needle",
  echo: 'mean attention on the earlier occurrences of the current token',
  induction: 'mean attention on the tokens after the earlier occurrences of the current token',
};

/** The summary printed after a qrhead / echo / induction run. */
export function describeMethodScores(scores: ScoresFile, seconds?: number): string {
  const method = (scores.settings.method ?? 'paper') as Exclude<DetectionMethod, 'paper'>;
  const threshold = scores.settings.threshold ?? DEFAULT_THRESHOLD;
  const rs = scores.settings.randomSequence;
  const heads = scores.model.layers * scores.model.heads;
  const top = scores.scores
    .flatMap((row, l) => row.map((v, h) => [l, h, v] as const))
    .sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1])
    .slice(0, 10);
  return [
    `method ${method}: ${RULES[method]}, over ${scores.cases.length} ${rs ? `sequences (${rs.repeats} x ${rs.blockLength} random tokens, seeds ${rs.seed}..${rs.seed + rs.trials - 1})` : 'cases'}${seconds !== undefined ? ` in ${seconds.toFixed(1)} s` : ''}`,
    `heads scoring >= ${threshold}: ${scores.retrievalHeads.length} of ${heads} (${(100 * scores.summary.fractionRetrieval).toFixed(1)}%)`,
    'top heads:',
    ...top.map(([l, h, v]) => `  layer ${l} head ${h}: ${v.toFixed(3)}`),
  ].join('\n');
}
