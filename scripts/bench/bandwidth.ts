// Memory read bandwidth as onnxruntime sees it: a ReduceSum over a buffer far larger than the
// caches, with onnxruntime's own threads. Decoding a token reads every weight once, so
// (weights + KV cache) / this bandwidth is the fastest a decode step can be.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { onnx, node, valueInfo, DT } from '../../src/engine/graph.js';
import { ort } from '../../src/engine/session.js';
import type { describeModel } from '../../src/engine/model.js';

/** Bytes of the model's graph and external data: what one decoding step reads at least once. */
export function weightsBytes(d: Awaited<ReturnType<typeof describeModel>>): number {
  return [d.onnxFile.path, ...d.onnxFile.externalData.map((f) => join(d.dir, f))]
    .filter(existsSync)
    .reduce((s, f) => s + statSync(f).size, 0);
}

export async function measureBandwidthGBs(bytes = 1 << 30, rounds = 7): Promise<number> {
  const n = bytes / 4;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'bandwidth',
      node: [node('ReduceSum', ['x'], ['y'], 'sum', { keepdims: 0 })],
      input: [valueInfo('x', DT.FLOAT, [n])],
      output: [valueInfo('y', DT.FLOAT, [])],
    },
  });
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { graphOptimizationLevel: 'all' });
  const x = new ort.Tensor('float32', new Float32Array(n).fill(1), [n]);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await session.run({ x });
    times.push(performance.now() - t0);
  }
  await session.release();
  times.sort((a, b) => a - b);
  // The fastest rounds are the ones the machine's other load disturbed least.
  const best = times.slice(0, 3).reduce((a, b) => a + b, 0) / 3;
  return bytes / (best / 1000) / 1e9;
}
