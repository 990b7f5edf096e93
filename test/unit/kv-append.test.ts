// The 'append' KV cache (graphs whose GroupQueryAttention reads the cache in place): each step hands
// back only the new positions, which land after each grown row's own length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/engine/kv.js';
import { ort } from '../../src/engine/session.js';

const shape = { layers: 1, kvHeads: 2, headDim: 3, kvType: 'float32' as const };

/** New positions [batch, kvHeads, n, headDim] whose values name (row, head, position, dim). */
function newRows(batch: number, n: number, from: number[]): ort.Tensor[] {
  const { kvHeads, headDim } = shape;
  const data = (kind: number) =>
    Float32Array.from({ length: batch * kvHeads * n * headDim }, (_, i) => {
      const d = i % headDim;
      const s = Math.floor(i / headDim) % n;
      const h = Math.floor(i / (headDim * n)) % kvHeads;
      const b = Math.floor(i / (headDim * n * kvHeads));
      return kind * 10000 + b * 1000 + h * 100 + (from[b] + s) * 10 + d;
    });
  return [0, 1].map((kind) => new ort.Tensor('float32', data(kind), [batch, shape.kvHeads, n, shape.headDim]));
}

function expected(kind: number, b: number, h: number, len: number): number[] {
  return Array.from(
    { length: len * shape.headDim },
    (_, i) => kind * 10000 + b * 1000 + h * 100 + Math.floor(i / shape.headDim) * 10 + (i % shape.headDim),
  );
}

test('append: the past is the whole buffer, nothing is preallocated, new positions land after each row', () => {
  const kv = new KVCache(shape, 'append', 2, 4);
  const first = kv.tensors(3);
  assert.equal(first.present, null);
  assert.deepEqual(first.past[0].dims.slice(0, 2), [2, 2]);
  assert.ok(first.past[0].dims[2] >= 3);
  kv.commit(3, newRows(2, 3, [0, 0]));
  assert.deepEqual(kv.lengths, [3, 3]);
  // Row 1 does not grow on this step: its length stays and its slots are left alone.
  kv.commit(2, newRows(2, 2, [3, 3]), [true, false]);
  assert.deepEqual(kv.lengths, [5, 3]);
  for (const kind of [0, 1]) {
    for (let h = 0; h < 2; h++) {
      assert.deepEqual(Array.from(kv.rowData(0, kind)[h]), expected(kind, 0, h, 5), `row 0 head ${h}`);
      assert.deepEqual(Array.from(kv.rowData(1, kind)[h]), expected(kind, 1, h, 3), `row 1 head ${h}`);
    }
  }
});

test('append: the buffer grows past its first room and keeps what it holds', () => {
  const kv = new KVCache(shape, 'append', 1, 2);
  let at = 0;
  for (const n of [5, 7, 30]) {
    kv.tensors(n);
    kv.commit(n, newRows(1, n, [at]));
    at += n;
  }
  assert.equal(kv.length, 42);
  assert.deepEqual(Array.from(kv.rowData(0, 1)[1]), expected(1, 0, 1, 42));
  const copy = kv.copyPrefix(10);
  assert.equal(copy.mode, 'append');
  assert.deepEqual(Array.from(copy.rowData(0, 0)[0]), expected(0, 0, 0, 10));
});

test('append: a step whose outputs are not the new positions is refused', () => {
  const kv = new KVCache(shape, 'append', 1, 4);
  kv.tensors(2);
  assert.throws(() => kv.commit(2, newRows(1, 3, [0])), /returned 18 values for 2 new positions/);
});

test('in place: a reserved room is not read whole from the first step; rows keep their data as the stride widens', () => {
  for (const mode of ['append', 'shared'] as const) {
    const kv = new KVCache(shape, mode, 2, 4);
    kv.reserve(200);
    const widths: number[] = [];
    const at = [0, 0];
    for (const n of [3, 10, 1, 40, 1, 1, 90]) {
      const { past } = kv.tensors(n);
      widths.push(past[0].dims[2]);
      assert.equal(past[0].data.length, 2 * shape.kvHeads * past[0].dims[2] * shape.headDim);
      const grew = [true, n !== 40]; // row 1 sits one step out
      if (mode === 'append') kv.commit(n, newRows(2, n, at), grew);
      else {
        // The op writes the new positions into the fed buffer itself.
        const src = newRows(2, n, at);
        for (let k = 0; k < 2; k++)
          for (let b = 0; b < 2; b++)
            for (let h = 0; h < shape.kvHeads; h++) {
              if (!grew[b]) continue;
              const stride = past[k].dims[2] * shape.headDim;
              const from = (b * shape.kvHeads + h) * n * shape.headDim;
              (past[k].data as Float32Array).set(
                (src[k].data as Float32Array).subarray(from, from + n * shape.headDim),
                (b * shape.kvHeads + h) * stride + at[b] * shape.headDim,
              );
            }
        kv.commit(n, [], grew);
      }
      grew.forEach((g, b) => g && (at[b] += n));
    }
    assert.ok(widths[0] <= 16 && widths[3] < 100, `${mode}: widths ${widths}`);
    assert.ok(widths.every((w, i) => i === 0 || w >= widths[i - 1]));
    assert.deepEqual(kv.lengths, [146, 106]);
    for (const kind of [0, 1])
      for (let h = 0; h < 2; h++) {
        assert.deepEqual(Array.from(kv.rowData(0, kind)[h]), expected(kind, 0, h, 146), `${mode} row 0`);
        assert.deepEqual(Array.from(kv.rowData(1, kind)[h]), expected(kind, 1, h, 106), `${mode} row 1`);
      }
  }
});

test("in place: growth stops at the model's positions unless a step needs more", () => {
  for (const mode of ['append', 'shared'] as const) {
    const kv = new KVCache({ ...shape, maxPositions: 40 }, mode, 1, 36);
    kv.tensors(36);
    kv.commit(36, mode === 'append' ? newRows(1, 36, [0]) : []);
    // 37 positions asked of a room of 36: a quarter more would be 45, past the model's 40. Shared
    // buffers make the room before the step (the op writes into them), append caches after it.
    if (mode === 'shared') assert.equal(kv.tensors(1).past[0].dims[2], 40, mode);
    else {
      assert.equal(kv.tensors(1).past[0].dims[2], 36, 'append: the step is fed the positions it has');
      kv.commit(1, newRows(1, 1, [36]));
      // Its stride is now 40; a 1-token step is fed 39 columns (the test below).
      assert.equal(kv.tensors(1).past[0].dims[2], 39, mode);
      kv.commit(20, newRows(1, 20, [37]));
      assert.ok(kv.tensors(1).past[0].dims[2] >= 57, `${mode}: a step needing more than the positions still gets it`);
      continue;
    }
    kv.commit(1, []);
    assert.ok(kv.tensors(20).past[0].dims[2] >= 57, `${mode}: a step needing more than the positions still gets it`);
  }
});

test('append: near the model positions a step is fed no more columns than the positions allow', () => {
  const kv = new KVCache({ ...shape, maxPositions: 40 }, 'append', 2, 30);
  kv.tensors(30);
  kv.commit(30, newRows(2, 30, [0, 0]));
  kv.tensors(5);
  kv.commit(5, newRows(2, 5, [30, 30]));
  // The stride grew by a quarter (38, in a room of the model's 40): a 4-token step would see 42 columns.
  assert.equal(kv.tensors(1).past[0].dims[2], 38);
  assert.equal(kv.tensors(4).past[0].dims[2], 36, 'narrowed to 40 - 4');
  for (const kind of [0, 1])
    for (let h = 0; h < 2; h++)
      for (let b = 0; b < 2; b++) assert.deepEqual(Array.from(kv.rowData(b, kind)[h]), expected(kind, b, h, 35), `row ${b} head ${h}`);
  kv.commit(4, newRows(2, 4, [35, 35]));
  assert.equal(kv.length, 39);
  for (let h = 0; h < 2; h++) assert.deepEqual(Array.from(kv.rowData(1, 1)[h]), expected(1, 1, h, 39));
});
