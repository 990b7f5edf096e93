// How a grid's cases are dealt into decoding batches, and how many rows the engine's KV budget holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executionOrder, planCases } from '../../src/method/grid.js';
import { decodingBatches } from '../../src/method/detect.js';
import { BATCH_KV_BUDGET_BYTES, batchRowsFor } from '../../src/engine/batch.js';
import type { Needle } from '../../src/method/types.js';

const needles = ['a', 'b', 'c'].map((id) => ({ id }) as Needle);
const key = (b: { length: number; depth: number; needle: Needle }[]) => b.map((g) => `${g.length}/${g.depth}/${g.needle.id}`);

test('the first batch is one cell; later ones fill up to the rows a length allows, never mixing lengths', () => {
  const todo = executionOrder(planCases([1024, 4096], [0, 50, 100], needles));
  const rows = (length: number) => (length === 4096 ? 5 : 100);
  const batches = decodingBatches(todo, rows);
  assert.deepEqual(key(batches[0]), ['4096/100/a', '4096/100/b', '4096/100/c']);
  assert.deepEqual(key(batches[1]), ['4096/50/a', '4096/50/b', '4096/50/c', '4096/0/a', '4096/0/b']);
  assert.deepEqual(key(batches[2]), ['4096/0/c']);
  // Every 1K case in one batch, deepest needle first.
  assert.deepEqual(key(batches[3]), key(todo.filter((g) => g.length === 1024)));
  assert.equal(batches.length, 4);
  assert.deepEqual(batches.flat(), todo);
});

test('one row per batch when the model decodes one at a time or the budget holds one row', () => {
  const todo = executionOrder(planCases([256], [0, 100], needles));
  const batches = decodingBatches(todo, () => 1);
  assert.equal(batches.length, todo.length);
  assert.ok(batches.every((b) => b.length === 1));
});

test("a batch's KV caches stay within the budget, and a prompt too long for it still runs alone", () => {
  // Qwen2.5-0.5B's cache: 24 layers x 2 KV heads x 64 x fp32, keys and values = 24,576 bytes a position.
  const shape = { layers: 24, kvHeads: 2, headDim: 64, kvType: 'float32' as const };
  const perPosition = 24 * 2 * 64 * 4 * 2;
  for (const tokens of [1074, 4146, 8242, 32818]) {
    const rows = batchRowsFor(shape, tokens);
    assert.ok(rows * tokens * perPosition <= BATCH_KV_BUDGET_BYTES || rows === 1, `${tokens}: ${rows} rows`);
    assert.ok((rows + 1) * tokens * perPosition > BATCH_KV_BUDGET_BYTES, `${tokens}: room for one more row than ${rows}`);
  }
  assert.equal(batchRowsFor(shape, 4146), 5);
  assert.equal(batchRowsFor(shape, 32818), 1);
  // fp16 caches take half: twice the rows.
  assert.equal(batchRowsFor({ ...shape, kvType: 'float16' }, 4146), 10);
});
