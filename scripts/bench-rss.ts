// Child of bench.ts: peak RSS of one chunked prefill of N tokens on the bundled organism.
import { join } from 'node:path';
import { readArchConfig } from '../src/engine/config.js';
import { instrumentedGraph, defaultCacheDir } from '../src/engine/cache.js';
import { createSession } from '../src/engine/session.js';
import { Runner, prefillChunkSize } from '../src/engine/runner.js';

async function main() {
  const n = Number(process.argv[2] ?? 2048);
  const dir = join(__dirname, '..', 'models', 'needle-organism-2k');
  const arch = readArchConfig(dir);
  const graph = await instrumentedGraph(join(dir, 'onnx', 'model.onnx'), arch.layers, arch.heads, defaultCacheDir());
  const shape = { layers: arch.layers, heads: arch.heads, kvHeads: arch.kvHeads, headDim: arch.headDim, vocabSize: arch.vocabSize, kvType: 'float32' as const };
  const runner = new Runner(await createSession(graph.path), shape);
  await runner.newSequence().prefill([1, 2, 3]); // session warm: arenas exist before the baseline
  const baselineRssMb = process.memoryUsage().rss / 2 ** 20;
  const chunkSize = prefillChunkSize(shape, n);
  const ids = Array.from({ length: n }, (_, i) => 3 + ((i * 131) % (arch.vocabSize - 3)));
  await runner.newSequence().prefill(ids, { chunkSize });
  // maxRSS is in kilobytes on Linux and macOS.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ peakRssMb, baselineRssMb, chunkSize }) + '\n');
}
main();
