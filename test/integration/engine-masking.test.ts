// Exposed attention rows and head masks, checked against independent constructions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedModel, tempDir } from '../support/paths.js';
import { runnerPair, maxAbsDiff, tokenIds } from '../support/runners.js';
import { onnx, indexGraph } from '../../src/engine/graph.js';
import { findAttentionSites } from '../../src/engine/attention.js';
import { createSession } from '../../src/engine/session.js';
import { Runner } from '../../src/engine/runner.js';
import { maskTensor } from '../../src/engine/generate.js';

const cache = tempDir('rl-cache-');

test('attention rows are causal probability distributions over the visible positions', async () => {
  const { inst, arch } = await runnerPair(sharedModel('stories260K'), cache);
  const ids = tokenIds(64, arch.vocabSize, 1);
  const seq = inst.newSequence();
  const first = await seq.prefill(ids.slice(0, 40), { chunkSize: 16, attention: true });
  const rows = [first];
  for (const t of ids.slice(40)) rows.push(await seq.forward([t], { attention: true }));
  for (const r of rows) {
    const att = r.attention!; // [layers, heads, kvLen]
    assert.equal(att.length, arch.layers * arch.heads * r.kvLen);
    for (let lh = 0; lh < arch.layers * arch.heads; lh++) {
      const row = att.subarray(lh * r.kvLen, (lh + 1) * r.kvLen);
      const sum = row.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `row sums to ${sum}`);
      assert.ok(row.every((p) => p >= 0));
    }
  }
  // Causality: the row of position 39 does not change when later tokens differ.
  const other = [...ids.slice(0, 40), ...tokenIds(24, arch.vocabSize, 9)];
  const seq2 = inst.newSequence();
  const r2 = await seq2.prefill(other.slice(0, 40), { chunkSize: 40, attention: true });
  assert.ok(maxAbsDiff(first.attention!, r2.attention!) < 1e-5);
  // A row read in one chunk equals the row read one token at a time (no leak from later chunk rows).
  const seq3 = inst.newSequence();
  await seq3.prefill(ids.slice(0, 39), { chunkSize: 39, logits: false });
  const r3 = await seq3.forward([ids[39]], { attention: true });
  assert.ok(maxAbsDiff(first.attention!, r3.attention!) < 1e-5);
});

test('uniform mode: a masked head attends uniformly over the visible positions; nothing upstream changes', async () => {
  const { inst, arch } = await runnerPair(sharedModel('needle-organism'), cache);
  const ids = tokenIds(120, arch.vocabSize, 2);
  const masked = [
    { layer: 3, head: 5 },
    { layer: 3, head: 0 },
    { layer: 1, head: 2 },
  ];
  const mask = maskTensor(masked, arch.layers, arch.heads);
  const base = await inst.newSequence().forward(ids, { attention: true });
  const m = await inst.newSequence().forward(ids, { attention: true, mask, uniform: true });
  const kv = base.kvLen;
  const row = (att: Float32Array, l: number, h: number) => att.subarray((l * arch.heads + h) * kv, (l * arch.heads + h + 1) * kv);
  for (const { layer, head } of masked) for (const p of row(m.attention!, layer, head)) assert.ok(Math.abs(p - 1 / kv) < 1e-6);
  // Layer 0 comes before every masked head: identical. Layer 1's other heads see the same input: identical.
  for (let h = 0; h < arch.heads; h++) assert.ok(maxAbsDiff(row(base.attention!, 0, h), row(m.attention!, 0, h)) < 1e-6);
  for (let h = 0; h < arch.heads; h++) if (h !== 2) assert.ok(maxAbsDiff(row(base.attention!, 1, h), row(m.attention!, 1, h)) < 1e-6);
  // Downstream it does change.
  assert.ok(maxAbsDiff(base.logits!, m.logits!) > 1e-3);
  assert.ok(maxAbsDiff(row(base.attention!, 5, 0), row(m.attention!, 5, 0)) > 1e-6);
});

test('uniform mode equals attending with the query zeroed (checked against a rewritten original graph)', async () => {
  // Independent construction: zero the rows of layer 2's q_proj weight for query heads 4..7 in the
  // ORIGINAL graph (the paper's flash-path masking); compare with head_mask uniform on those heads.
  const dir = sharedModel('needle-organism');
  const { inst, arch, shape } = await runnerPair(dir, cache);
  const model = onnx.ModelProto.decode(readFileSync(join(dir, 'onnx', 'model.onnx')));
  const g = model.graph!;
  const site = findAttentionSites(g, arch.layers)[2];
  assert.ok(site.form === 'plain');
  const idx = indexGraph(g);
  // Walk back from Q.K^T's first input to the q projection MatMul with a weight initializer.
  let t = site.scoreMatMul.input![0];
  let qProj;
  for (let i = 0; i < 30 && !qProj; i++) {
    const p = idx.producer.get(t)!;
    if (p.opType === 'MatMul' && idx.initializers.has(p.input![1])) qProj = p;
    else t = p.input!.find((x) => !idx.initializers.has(x) && idx.producer.get(x)?.opType !== 'Constant')!;
  }
  assert.ok(qProj, 'q projection found');
  const w = g.initializer!.find((x) => x.name === qProj!.input![1])!;
  const data = new Float32Array(Uint8Array.from(w.rawData!).buffer); // [hidden, heads*headDim]
  const cols = Number(w.dims![1]);
  for (let r = 0; r < Number(w.dims![0]); r++) for (let c = 4 * arch.headDim; c < 8 * arch.headDim; c++) data[r * cols + c] = 0;
  w.rawData = new Uint8Array(data.buffer);
  const path = join(tempDir('rl-q0-'), 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  const zeroQ = new Runner(await createSession(path), shape);
  const ids = tokenIds(90, arch.vocabSize, 4);
  const heads = [4, 5, 6, 7].map((head) => ({ layer: 2, head }));
  const a = await zeroQ.newSequence().forward(ids);
  const b = await inst.newSequence().forward(ids, { mask: maskTensor(heads, arch.layers, arch.heads), uniform: true });
  assert.ok(maxAbsDiff(a.logits!, b.logits!) < 1e-4, `max |diff| ${maxAbsDiff(a.logits!, b.logits!)}`);
});

test('zero mode: masking every head of a layer equals removing that layer attention output', async () => {
  // Independent construction: zero the output projection (o_proj) weight of layer 4 in the original graph.
  const dir = sharedModel('stories260K');
  const { inst, arch, shape } = await runnerPair(dir, cache);
  const model = onnx.ModelProto.decode(readFileSync(join(dir, 'onnx', 'model.onnx')));
  const g = model.graph!;
  const site = findAttentionSites(g, arch.layers)[4];
  assert.ok(site.form === 'plain');
  const idx = indexGraph(g);
  let t = site.valueMatMul.output![0];
  let oProj;
  for (let i = 0; i < 10 && !oProj; i++) {
    const c = idx.consumers.get(t)![0];
    if (c.opType === 'MatMul') oProj = c;
    else t = c.output![0];
  }
  const w = g.initializer!.find((x) => x.name === oProj!.input![1])!;
  w.rawData = new Uint8Array(w.rawData!.length);
  const path = join(tempDir('rl-o0-'), 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  const noAttn = new Runner(await createSession(path), shape);
  const ids = tokenIds(50, arch.vocabSize, 5);
  const all = Array.from({ length: arch.heads }, (_, head) => ({ layer: 4, head }));
  const a = await noAttn.newSequence().forward(ids);
  const b = await inst.newSequence().forward(ids, { mask: maskTensor(all, arch.layers, arch.heads), uniform: false });
  assert.ok(maxAbsDiff(a.logits!, b.logits!) < 1e-4);
  // And a zero-masked head is not the same as a uniform-masked one.
  const c = await inst.newSequence().forward(ids, { mask: maskTensor(all, arch.layers, arch.heads), uniform: true });
  assert.ok(maxAbsDiff(c.logits!, b.logits!) > 1e-3);
});

test('masking an out-of-range head is a clear error', () => {
  assert.throws(() => maskTensor([{ layer: 6, head: 0 }], 6, 8), /head 6:0 does not exist \(model has 6 layers x 8 heads\)/);
});
