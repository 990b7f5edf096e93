// One long prompt through the instrumented graph alone: what `npm run bench -- --contexts 32768`
// would do twice (it also runs the original graph), for contexts where one prefill takes many
// minutes on a laptop. Prints one JSON line: prefill tokens/s, decode ms/token (median of 8
// steps, every head's attention read each step), the memory roofline and its share, and this
// process's peak RSS against weights + KV + 512 MB.
//   node --import tsx scripts/bench/long.ts DIR TOKENS [BANDWIDTH_GBS]
// Give the bandwidth (from a run of the bench) to keep the 1 GB probe out of the peak RSS.
import { describeModel, loadModel, runnerShape } from '../../src/engine/model.js';
import { kvBytesPerPosition } from '../../src/engine/kv.js';
import { measureBandwidthGBs, weightsBytes } from './bandwidth.js';
import { promptIds } from './prompt.js';

async function main() {
  const [dir, tokensArg, bwArg] = process.argv.slice(2);
  const n = Number(tokensArg);
  if (!dir || !Number.isInteger(n) || n < 2) throw new Error('usage: long.ts DIR TOKENS [BANDWIDTH_GBS]');
  const bandwidthGBs = bwArg ? Number(bwArg) : await measureBandwidthGBs();
  const d = await describeModel(dir);
  const weights = weightsBytes(d);
  const kvPerToken = kvBytesPerPosition(runnerShape(d.arch, d.graph));
  const model = await loadModel(dir);
  const ids = promptIds(n, model.info.vocabSize);
  const t0 = performance.now();
  let prefillS = 0;
  let last = 0;
  const steps: number[] = [];
  await model.generate(ids, {
    maxNewTokens: 9,
    stopTokens: [],
    attention: true,
    onStep: () => {
      const t = performance.now();
      if (!last) prefillS = (t - t0) / 1000;
      else steps.push(t - last);
      last = t;
    },
  });
  steps.sort((a, b) => a - b);
  const decodeMs = steps[Math.floor(steps.length / 2)];
  const rooflineMs = ((weights + kvPerToken * n) / (bandwidthGBs * 1e9)) * 1000;
  console.log(
    JSON.stringify({
      model: dir,
      tokens: n,
      kvCache: model.info.kvCache,
      bandwidthGBs,
      prefillTokensPerSec: n / prefillS,
      decodeMs,
      rooflineMs,
      rooflineFraction: rooflineMs / decodeMs,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      goalRssMb: (weights + kvPerToken * n) / 2 ** 20 + 512,
    }),
  );
  await model.dispose();
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
