// retrieval-lens ablate: NIAH accuracy with top-k retrieval heads vs k random non-retrieval heads masked.
import type { MaskMode, MaskScope } from '../../engine/index.js';
import { runAblation } from '../../method/ablate.js';
import { writeFileAtomic } from '../../method/formats.js';
import { parseArgs } from '../args.js';
import { checkModelFlags, FLAGS, openModel } from '../common.js';
import { HEAD_GRID_FLAGS, readHeadGridInputs } from '../headGrid.js';
import { ProgressReporter } from '../progress.js';
import { formatJson } from '../json.js';
import type { Command } from '../io.js';

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    ...HEAD_GRID_FLAGS,
    'mask-mode': FLAGS.maskMode,
    'mask-scope': FLAGS.maskScope,
  });
  // How it was called first (exit 2), then what it was given (exit 1).
  checkModelFlags(flags);
  const mode = flags['mask-mode'] ?? 'uniform';
  const scope = flags['mask-scope'] ?? 'decode';
  const { scores, ks, lengths, depths, haystack, needles } = readHeadGridInputs(flags);
  const model = await openModel(flags, io);
  const progress = new ProgressReporter(io);
  let condition = '';
  let cases = 0;
  let generations = 0;
  let finished = 0;
  // Conditions run their cases in order, so the case now running follows from the count finished.
  const running = () => progress.start(`${condition} · case ${(finished % cases) + 1}/${cases}`, { done: finished, total: generations });
  try {
    const heads = (hs: { layer: number; head: number }[]) => hs.map((h) => `${h.layer}-${h.head}`).join(', ');
    const result = await runAblation(
      model,
      scores,
      {
        ks,
        randomTrials: flags['random-trials'],
        seed: flags.seed,
        haystack,
        needles,
        lengths,
        depths,
        maxNewTokens: flags['max-new-tokens'],
        maskMode: mode as MaskMode,
        maskScope: scope as MaskScope,
      },
      {
        signal: io.signal,
        // Said once the inputs are checked: what runs, how many generations, before any progress.
        onPlan: (p) => {
          cases = p.cases;
          generations = p.generations;
          io.stderr(
            `ablating ${model.info.id}: ${p.cases} fresh cases (lengths ${p.lengths.join(', ')}; depths ${p.depths.join(', ')}%; ` +
              `needles ${p.needles.join(', ')}), each with no mask, then for k = ${p.ks.join(', ')} the top-k of the ${p.retrievalHeads} ` +
              `retrieval heads masked and ${p.randomTrials} draw${p.randomTrials > 1 ? 's' : ''} of k random other heads ` +
              `(mask ${mode}, ${scope}): ${p.conditions} conditions x ${p.cases} cases = ${p.generations} generations\n`,
          );
        },
        onCondition: (c) => {
          condition =
            c.kind === 'baseline'
              ? 'no mask'
              : c.kind === 'top'
                ? `top-${c.k} masked (${heads(c.heads)})`
                : `${c.k} random masked, draw ${c.trial}/${flags['random-trials'] ?? 5} (${heads(c.heads)})`;
          running();
        },
        onProgress: (p) => {
          finished = p.done;
          progress.update(p, `${condition}, case ${((p.done - 1) % cases) + 1}/${cases}`);
          if (p.done < p.total) running();
        },
      },
    ).finally(() => progress.end());
    if (flags.out) writeFileAtomic(flags.out, formatJson(result));
    if (flags.json) {
      io.stdout(formatJson(result) + '\n');
      return 0;
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const lines = [
      `NIAH accuracy, ${result.settings.cases} fresh cases, mask ${mode}/${scope}; no mask: ${result.baseline.toFixed(2)} (ROUGE-1 recall > 50%), ${result.baselineExact?.toFixed(2)} (exact answer)`,
      `${'k'.padStart(4)}  ${'top-k'.padStart(6)}  ${'random (mean)'.padStart(13)}  ${'exact: top-k'.padStart(12)}  ${'random'.padStart(6)}  per trial (ROUGE)`,
      ...result.results.map(
        (r) =>
          `${String(r.k).padStart(4)}  ${r.top.toFixed(2).padStart(6)}  ${mean(r.random).toFixed(2).padStart(13)}  ${(r.topExact ?? 0).toFixed(2).padStart(12)}  ${mean(
            r.randomExact ?? [0],
          )
            .toFixed(2)
            .padStart(6)}  ${r.random.map((v) => v.toFixed(2)).join(' ')}`,
      ),
    ];
    if (flags.out) lines.push(`wrote ${flags.out}`);
    io.stdout(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};
