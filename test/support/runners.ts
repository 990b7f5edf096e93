// A model's original graph and its instrumented copy side by side, for exactness tests.
import { readArchConfig } from '../../src/engine/config.js';
import { instrumentedGraph } from '../../src/engine/cache.js';
import { graphSession } from '../../src/engine/model.js';
import { createSession } from '../../src/engine/session.js';
import { Runner, type RunnerShape } from '../../src/engine/runner.js';
import { join } from 'node:path';

export async function runnerPair(dir: string, cacheDir: string) {
  const arch = readArchConfig(dir);
  const src = join(dir, 'onnx', 'model.onnx');
  const graph = await instrumentedGraph(
    src,
    { layers: arch.layers, heads: arch.heads, kvHeads: arch.kvHeads, headDim: arch.headDim, windowed: arch.windowed },
    cacheDir,
  );
  const shape: RunnerShape = {
    layers: arch.layers,
    heads: arch.heads,
    kvHeads: arch.kvHeads,
    headDim: arch.headDim,
    vocabSize: arch.vocabSize,
    kvType: 'float32',
  };
  const plain = new Runner(await createSession(src), shape);
  const inst = new Runner(await graphSession(graph), shape);
  return { arch, shape, plain, inst, graph };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Deterministic pseudo-text token ids inside the vocabulary (skipping the special ids 0-2). */
export function tokenIds(n: number, vocab: number, salt = 0): number[] {
  return Array.from({ length: n }, (_, i) => 3 + ((i * 131 + salt * 17 + ((i * i) % 7)) % (vocab - 3)));
}
