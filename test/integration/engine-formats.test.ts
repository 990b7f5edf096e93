// Graph layouts beyond the plain decoder: merged decoders (If on use_cache_branch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeMergedCopy } from '../fixtures/mergedDecoder.js';
import { instrumentedGraph } from '../../src/engine/cache.js';
import { graphSession } from '../../src/engine/model.js';
import { createSession } from '../../src/engine/session.js';
import { Runner } from '../../src/engine/runner.js';
import { readArchConfig } from '../../src/engine/config.js';
import { sharedModel, tempDir } from '../support/paths.js';
import { maxAbsDiff, tokenIds } from '../support/runners.js';

test('a merged decoder (If branches) is instrumented in both branches and stays exact', async () => {
  const dir = sharedModel('stories260K');
  const arch = readArchConfig(dir);
  const merged = join(tempDir('rl-merged-'), 'onnx', 'decoder_model_merged.onnx');
  makeMergedCopy(join(dir, 'onnx', 'model.onnx'), merged);
  const shape = {
    layers: arch.layers,
    heads: arch.heads,
    kvHeads: arch.kvHeads,
    headDim: arch.headDim,
    vocabSize: arch.vocabSize,
    kvType: 'float32' as const,
  };
  const g = await instrumentedGraph(
    merged,
    { layers: arch.layers, heads: arch.heads, kvHeads: arch.kvHeads, headDim: arch.headDim, windowed: arch.windowed },
    tempDir('rl-cache-'),
  );
  assert.equal(g.attention.length, arch.layers);
  const plain = new Runner(await createSession(join(dir, 'onnx', 'model.onnx')), shape);
  const inst = new Runner(await graphSession(g), shape);
  const ids = tokenIds(60, arch.vocabSize, 6);
  const a = await plain.newSequence().forward(ids);
  const seq = inst.newSequence();
  await seq.prefill(ids.slice(0, 50), { chunkSize: 25 }); // first chunk: no-cache branch; then the cache branch
  const b = await seq.forward(ids.slice(50), { attention: true });
  assert.ok(maxAbsDiff(a.logits!, b.logits!) < 1e-4);
  assert.equal(b.attention!.length, arch.layers * arch.heads * 60);
  const m = new Float32Array(arch.layers * arch.heads).fill(1);
  m[arch.heads + 3] = 0;
  const c = await inst.newSequence().forward(ids, { attention: true, mask: m });
  const row = c.attention!.subarray((arch.heads + 3) * 60, (arch.heads + 4) * 60);
  assert.ok(row.every((p) => Math.abs(p - 1 / 60) < 1e-6));
});
