// retrieval-lens kv-whatif: NIAH accuracy when only the top-k retrieval heads (their KV heads)
// keep the whole KV cache and every other head keeps a sink and a recent window, against as many
// random KV heads kept whole, on the ablation's fresh cases.
import { runKvWhatif } from '../../method/kvWhatif.js';
import { writeFileAtomic } from '../../method/formats.js';
import { parseArgs } from '../args.js';
import { checkModelFlags, openModel } from '../common.js';
import { HEAD_GRID_FLAGS, readHeadGridInputs } from '../headGrid.js';
import { progressLine } from '../progress.js';
import type { Command } from '../io.js';

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    ...HEAD_GRID_FLAGS,
    window: { type: 'int', min: 1, max: 10_000_000 },
    sink: { type: 'int', min: 0, max: 10_000_000 },
  });
  checkModelFlags(flags);
  const { scores, ks, lengths, depths, haystack, needles } = readHeadGridInputs(flags);
  const model = await openModel(flags, io);
  try {
    const r = await runKvWhatif(
      model,
      scores,
      {
        ks,
        window: flags.window,
        sink: flags.sink,
        randomTrials: flags['random-trials'],
        seed: flags.seed,
        haystack,
        needles,
        lengths,
        depths,
        maxNewTokens: flags['max-new-tokens'],
      },
      { signal: io.signal, onProgress: (p) => io.stderr(progressLine(p.done, p.total, p.etaMs)) },
    );
    if (flags.out) writeFileAtomic(flags.out, JSON.stringify(r, null, 1));
    if (flags.json) {
      io.stdout(JSON.stringify(r) + '\n');
      return 0;
    }
    const f = (x: number) => x.toFixed(2);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    const { settings: s } = r;
    const lines = [
      `KV what-if, ${s.cases} fresh cases, restricted heads keep sink ${s.sink} + window ${s.window}; accuracy = ROUGE-1 recall > 50%, exact = the whole answer`,
      `whole cache:   KV 100.0%  accuracy ${f(r.baseline.accuracy)}  exact ${f(r.baseline.exact)}`,
      `window only:   KV ${pct(r.windowOnly.kvFraction).padStart(6)}  accuracy ${f(r.windowOnly.accuracy)}  exact ${f(r.windowOnly.exact)}`,
      `${'k'.padStart(4)}  ${'KV heads'.padStart(8)}  ${'KV'.padStart(6)}  ${'retrieval kept'.padStart(14)}  ${'random kept'.padStart(13)}  (accuracy / exact; random: mean of ${s.randomTrials})`,
    ];
    for (let i = 0; i + 1 < r.points.length; i += 2) {
      const top = r.points[i];
      const rnd = r.points[i + 1];
      lines.push(
        `${String(top.k).padStart(4)}  ${String(top.keptKvHeads.length).padStart(8)}  ${pct(top.kvFraction).padStart(6)}  ${`${f(top.accuracy)} / ${f(top.exact)}`.padStart(14)}  ${`${f(rnd.accuracy)} / ${f(rnd.exact)}`.padStart(13)}`,
      );
    }
    if (flags.out) lines.push(`wrote ${flags.out}`);
    io.stdout(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};
