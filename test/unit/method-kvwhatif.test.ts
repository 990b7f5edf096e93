// KV what-if policy and memory: which KV heads a set of query heads holds, which heads the policy
// restricts, the cache it keeps, random KV heads at the same memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupSize, headsOfUnits, kvFraction, kvUnitsOf, randomUnits, restrictedHeads } from '../../src/method/kvWhatif.js';
import { rng } from '../../src/shared/random.js';

// The organism's shape: 6 layers, 8 query heads sharing 4 KV heads (pairs 0-1, 2-3, 4-5, 6-7).
const gqa = { layers: 6, heads: 8, kvHeads: 4 };
const mha = { layers: 2, heads: 4, kvHeads: 4 };

test('query heads map to the KV heads that hold them, each once, in rank order', () => {
  assert.equal(groupSize(gqa), 2);
  const top = [
    { layer: 5, head: 0 },
    { layer: 5, head: 5 },
    { layer: 5, head: 4 },
    { layer: 1, head: 1 },
  ];
  // 5-5 and 5-4 share KV head 2 of layer 5: the cache is per KV head.
  assert.deepEqual(kvUnitsOf(top, gqa), [
    { layer: 5, kvHead: 0 },
    { layer: 5, kvHead: 2 },
    { layer: 1, kvHead: 0 },
  ]);
  assert.deepEqual(kvUnitsOf(top, { layers: 6, heads: 8, kvHeads: 8 }).length, 4);
  assert.deepEqual(kvUnitsOf(top, { layers: 6, heads: 8, kvHeads: 1 }), [
    { layer: 5, kvHead: 0 },
    { layer: 1, kvHead: 0 },
  ]);
  assert.throws(() => groupSize({ layers: 1, heads: 6, kvHeads: 4 }), /6 query heads do not split into 4 KV heads/);
});

test('every query head of a kept KV head attends in full; all others are restricted', () => {
  const kept = [
    { layer: 5, kvHead: 0 },
    { layer: 5, kvHead: 2 },
  ];
  assert.deepEqual(headsOfUnits(kept, gqa), [
    { layer: 5, head: 0 },
    { layer: 5, head: 1 },
    { layer: 5, head: 4 },
    { layer: 5, head: 5 },
  ]);
  const r = restrictedHeads(kept, gqa);
  assert.equal(r.length, 48 - 4);
  const key = (h: { layer: number; head: number }) => `${h.layer}:${h.head}`;
  const restricted = new Set(r.map(key));
  for (const h of headsOfUnits(kept, gqa)) assert.ok(!restricted.has(key(h)), `${key(h)} is kept whole`);
  assert.ok(restricted.has('5:2') && restricted.has('0:0') && restricted.has('5:7'));
  assert.equal(restrictedHeads([], mha).length, 8);
  assert.equal(restrictedHeads([{ layer: 1, kvHead: 3 }], mha).length, 7);
});

test('kvFraction: kept KV heads hold every position, restricted ones sink + window, summed over the lengths', () => {
  // 24 KV heads, 2 kept, at 512 tokens with a sink of 4 and a window of 64: (2 * 512 + 22 * 68) / (24 * 512).
  assert.ok(Math.abs(kvFraction(2, gqa, [512], 4, 64) - (2 * 512 + 22 * 68) / (24 * 512)) < 1e-12);
  assert.equal(kvFraction(24, gqa, [512, 2048], 4, 32), 1);
  assert.ok(Math.abs(kvFraction(0, gqa, [512], 4, 32) - 36 / 512) < 1e-12);
  // A sequence shorter than sink + window is kept whole.
  assert.equal(kvFraction(0, gqa, [30], 4, 32), 1);
  // Longer sequences weigh as the memory they take: 512 and 2048 together, not a mean of ratios.
  const both = (2 * (512 + 2048) + 22 * (36 + 36)) / (24 * (512 + 2048));
  assert.ok(Math.abs(kvFraction(2, gqa, [512, 2048], 4, 32) - both) < 1e-12);
  assert.ok(kvFraction(2, gqa, [2048], 4, 32) < kvFraction(2, gqa, [512], 4, 32));
  assert.throws(() => kvFraction(25, gqa, [512], 4, 32), /cannot keep 25 of 24 KV heads/);
  assert.throws(() => kvFraction(1, gqa, [], 4, 32), /no sequence lengths/);
});

test('random KV heads: as many as asked, never the excluded ones, no repeats, the same per seed', () => {
  const exclude = [
    { layer: 5, kvHead: 0 },
    { layer: 5, kvHead: 2 },
  ];
  const a = randomUnits(gqa, 6, exclude, rng(7));
  assert.equal(a.length, 6);
  assert.equal(new Set(a.map((u) => `${u.layer}:${u.kvHead}`)).size, 6);
  assert.ok(a.every((u) => !exclude.some((e) => e.layer === u.layer && e.kvHead === u.kvHead)));
  assert.deepEqual(randomUnits(gqa, 6, exclude, rng(7)), a);
  assert.notDeepEqual(randomUnits(gqa, 6, exclude, rng(8)), a);
  assert.equal(randomUnits(gqa, 22, exclude, rng(1)).length, 22);
  assert.throws(() => randomUnits(gqa, 23, exclude, rng(1)), /cannot draw 23 random KV heads: only 22/);
  // The same KV memory as the retrieval policy: as many units kept, so the same kvFraction.
  assert.equal(kvFraction(a.length, gqa, [512], 4, 32), kvFraction(6, gqa, [512], 4, 32));
});
