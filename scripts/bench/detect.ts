// Detection wall time on a grid, as the engine runs it (shared-prefix KV reuse, a cell's needles
// decoded as one batch) against the plain way (every case prefilled whole and decoded alone), with
// the scores of both compared. argv (as a child of bench.ts): modelDir lengths depths dtype
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import { runDetection } from '../../src/method/detect.js';

async function main() {
  const [dir, lengthsArg, depthsArg, dtype] = process.argv.slice(2);
  const model = await loadModel(dir, { dtype: dtype || undefined });
  const haystack = [readFileSync(join(__dirname, '..', '..', 'data', 'haystack', 'shakespeare.txt'), 'utf8')];
  const lengths = lengthsArg
    .split(',')
    .map(Number)
    .filter((l) => l <= model.info.contextLength);
  const depths = depthsArg.split(',').map(Number);
  const time = async (fast: boolean) => {
    const stats = { reusedPositions: 0, prefilledPositions: 0 };
    const t0 = performance.now();
    const s = await runDetection(model, { haystack, lengths, depths, reusePrefix: fast, batch: fast }, { stats });
    return { scores: s, seconds: (performance.now() - t0) / 1000, stats };
  };
  const fast = await time(true);
  const whole = await time(false);
  const same =
    JSON.stringify(fast.scores.cases) === JSON.stringify(whole.scores.cases) &&
    JSON.stringify(fast.scores.scores) === JSON.stringify(whole.scores.scores);
  const { reusedPositions, prefilledPositions } = fast.stats;
  process.stdout.write(
    JSON.stringify({
      lengths,
      depths,
      cases: fast.scores.cases.length,
      countedCases: fast.scores.summary.countedCases,
      batchDecoding: model.info.batchDecoding,
      seconds: fast.seconds,
      wholePrefillSeconds: whole.seconds,
      speedup: whole.seconds / fast.seconds,
      casesPerMinute: (fast.scores.cases.length / fast.seconds) * 60,
      reusedPrefixFraction: reusedPositions / Math.max(1, reusedPositions + prefilledPositions),
      identicalScores: same,
      retrievalHeads: fast.scores.retrievalHeads.slice(0, 5),
    }) + '\n',
  );
  await model.dispose();
}
main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
