// retrieval-lens ablate: NIAH accuracy with top-k retrieval heads vs k random non-retrieval heads masked.
import { readFileSync } from 'node:fs';
import { loadModel, RetrievalLensError, type MaskMode, type MaskScope } from '../../engine/index.js';
import { runAblation } from '../../method/ablate.js';
import { checkOutputPath, parseScoresJson, writeFileAtomic } from '../../method/formats.js';
import { readNeedlesFile } from '../../method/needles.js';
import { parseArgs, parseIntList, UsageError } from '../args.js';
import { defaultModelDir } from '../defaults.js';
import { progressLine } from '../progress.js';
import { readHaystacks } from './detect.js';
import type { Command } from '../io.js';

const HELP = `usage: retrieval-lens ablate [--model DIR] --scores scores.json [--k 1,2,4,8] [--random-trials 5]
    [--seed S] [--haystack FILE...] [--needles-file F] [--lengths L,...] [--depths D,...]
    [--mask-mode uniform|zero] [--mask-scope decode|all] [--out ablation.json] [--json]
Fresh cases: needles the detection run did not use, at depths halfway between its depths.
`;

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    model: { type: 'string' },
    dtype: { type: 'string' },
    scores: { type: 'string' },
    k: { type: 'string' },
    'random-trials': { type: 'number' },
    seed: { type: 'number' },
    haystack: { type: 'list', variadic: true },
    'needles-file': { type: 'string' },
    lengths: { type: 'string' },
    depths: { type: 'string' },
    'max-new-tokens': { type: 'number' },
    'mask-mode': { type: 'string' },
    'mask-scope': { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (flags.help) {
    io.stdout(HELP);
    return 0;
  }
  if (!flags.scores) throw new UsageError('--scores FILE is required (the output of retrieval-lens detect)');
  const mode = (flags['mask-mode'] as string) ?? 'uniform';
  const scope = (flags['mask-scope'] as string) ?? 'decode';
  if (mode !== 'uniform' && mode !== 'zero') throw new UsageError(`--mask-mode must be uniform or zero, got "${mode}"`);
  if (scope !== 'decode' && scope !== 'all') throw new UsageError(`--mask-scope must be decode or all, got "${scope}"`);
  if (flags.out) checkOutputPath(flags.out as string);
  let text: string;
  try {
    text = readFileSync(flags.scores as string, 'utf8');
  } catch (e) {
    throw new RetrievalLensError('BAD_SCORES_FILE', `cannot read ${flags.scores}: ${(e as Error).message}`);
  }
  const scores = parseScoresJson(text, flags.scores as string);
  const model = await loadModel((flags.model as string) ?? defaultModelDir(), { dtype: flags.dtype as string | undefined });
  try {
    const result = await runAblation(
      model,
      scores,
      {
        ks: flags.k ? parseIntList(flags.k as string, '--k') : undefined,
        randomTrials: flags['random-trials'] as number | undefined,
        seed: flags.seed as number | undefined,
        haystack: readHaystacks(flags.haystack as string[] | undefined),
        needles: flags['needles-file'] ? readNeedlesFile(flags['needles-file'] as string) : undefined,
        lengths: flags.lengths ? parseIntList(flags.lengths as string, '--lengths') : undefined,
        depths: flags.depths ? parseIntList(flags.depths as string, '--depths') : undefined,
        maxNewTokens: flags['max-new-tokens'] as number | undefined,
        maskMode: mode as MaskMode,
        maskScope: scope as MaskScope,
      },
      { signal: io.signal, onProgress: (p) => io.stderr(progressLine(p.done, p.total, p.etaMs)) },
    );
    if (flags.out) writeFileAtomic(flags.out as string, JSON.stringify(result, null, 1));
    if (flags.json) {
      io.stdout(JSON.stringify(result) + '\n');
      return 0;
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const lines = [
      `NIAH accuracy, ${result.settings.cases} fresh cases, mask ${mode}/${scope}; no mask: ${result.baseline.toFixed(2)} (ROUGE-1 recall > 50%), ${result.baselineExact?.toFixed(2)} (exact answer)`,
      `${'k'.padStart(4)}  ${'top-k'.padStart(6)}  ${'random (mean)'.padStart(13)}  ${'exact: top-k'.padStart(12)}  ${'random'.padStart(6)}  per trial (ROUGE)`,
      ...result.results.map(
        (r) =>
          `${String(r.k).padStart(4)}  ${r.top.toFixed(2).padStart(6)}  ${mean(r.random).toFixed(2).padStart(13)}  ${(r.topExact ?? 0).toFixed(2).padStart(12)}  ${mean(r.randomExact ?? [0]).toFixed(2).padStart(6)}  ${r.random.map((v) => v.toFixed(2)).join(' ')}`,
      ),
    ];
    if (flags.out) lines.push(`wrote ${flags.out}`);
    io.stdout(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};
