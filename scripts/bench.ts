// npm run bench [-- --json] [-- --no-detect]
// Speed and memory figures measured in one run on the bundled needle organism. Ratios between
// figures of the same run are what to compare: absolute numbers move with machine load.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readArchConfig } from '../src/engine/config.js';
import { instrumentedGraph, defaultCacheDir } from '../src/engine/cache.js';
import { createSession } from '../src/engine/session.js';
import { Runner, prefillChunkSize, type RunnerShape } from '../src/engine/runner.js';
import { argmax } from '../src/engine/sampling.js';
import { benchDetection } from './bench-detect.js';

const json = process.argv.includes('--json');
const skipDetect = process.argv.includes('--no-detect');
const modelDir = join(__dirname, '..', 'models', 'needle-organism-2k');
const log = (s: string) => {
  if (!json) process.stdout.write(s + '\n');
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ids(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => 3 + ((i * 131 + ((i * i) % 7)) % (vocab - 3)));
}

async function decodeMs(runner: Runner, prompt: number[], steps: number, attention: boolean): Promise<number> {
  const seq = runner.newSequence();
  const first = await seq.prefill(prompt);
  let tok = argmax(first.logits!);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const out = await seq.forward([tok], { attention });
    tok = argmax(out.logits!);
  }
  return (performance.now() - t0) / steps;
}

async function main() {
  const arch = readArchConfig(modelDir);
  const src = join(modelDir, 'onnx', 'model.onnx');
  const graph = await instrumentedGraph(src, arch.layers, arch.heads, defaultCacheDir());
  const shape: RunnerShape = { layers: arch.layers, heads: arch.heads, kvHeads: arch.kvHeads, headDim: arch.headDim, vocabSize: arch.vocabSize, kvType: 'float32' };
  const plain = new Runner(await createSession(src), shape);
  const inst = new Runner(await createSession(graph.path), shape);

  // Decode: 256-token prompt, 128 steps; rounds interleave the variants so load drift hits all alike.
  const prompt = ids(256, arch.vocabSize);
  await decodeMs(plain, prompt, 16, false); // warm-up
  await decodeMs(inst, prompt, 16, true);
  const runs = { plain: [] as number[], instrumented: [] as number[], instrumentedNoAttention: [] as number[] };
  for (let round = 0; round < 5; round++) {
    runs.plain.push(await decodeMs(plain, prompt, 128, false));
    runs.instrumented.push(await decodeMs(inst, prompt, 128, true));
    runs.instrumentedNoAttention.push(await decodeMs(inst, prompt, 128, false));
  }
  const decode = { plain: median(runs.plain), instrumented: median(runs.instrumented), instrumentedNoAttention: median(runs.instrumentedNoAttention) };
  log(`decode ms/token (256-token prompt, 128 steps, median of 5): plain ${decode.plain.toFixed(3)}, instrumented with attention ${decode.instrumented.toFixed(3)} (ratio ${(decode.instrumented / decode.plain).toFixed(3)}), instrumented without attention ${decode.instrumentedNoAttention.toFixed(3)}`);

  const prefill: Record<string, number> = {};
  const chunks: Record<string, number> = {};
  for (const n of [512, 2048]) {
    const times: number[] = [];
    chunks[n] = prefillChunkSize(shape, n);
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await inst.newSequence().prefill(ids(n, arch.vocabSize));
      times.push(performance.now() - t0);
    }
    prefill[n] = n / (median(times) / 1000);
    log(`prefill ${n} tokens: ${prefill[n].toFixed(0)} tokens/s (chunk size ${chunks[n]})`);
  }

  // Peak RSS in a fresh process so this process's allocations do not count.
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'bench-rss.ts'), '2048'], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`bench-rss failed: ${child.stderr}`);
  const rss = JSON.parse(child.stdout.trim().split('\n').pop()!) as { peakRssMb: number; baselineRssMb: number; chunkSize: number };
  log(`peak RSS of a 2048-token prefill: ${rss.peakRssMb.toFixed(0)} MB (process after model load: ${rss.baselineRssMb.toFixed(0)} MB; chunk size ${rss.chunkSize})`);

  const detection = skipDetect ? null : await benchDetection(modelDir, log);
  const result = {
    model: 'needle-organism-2k',
    decodeMsPerToken: { plain: decode.plain, instrumented: decode.instrumented, instrumentedNoAttention: decode.instrumentedNoAttention, ratio: decode.instrumented / decode.plain },
    prefillTokensPerSec: { '512': prefill[512], '2048': prefill[2048] },
    peakRssMb: rss.peakRssMb,
    baselineRssMb: rss.baselineRssMb,
    chunkSize: rss.chunkSize,
    ...(detection ? { detection } : {}),
  };
  if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e?.stack ?? e}\n`);
  process.exitCode = 1;
});
