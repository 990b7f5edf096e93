// Ablation helpers: head ranking, random non-retrieval heads, fresh depths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomHeads, rankHeads, freshDepths } from '../../src/method/ablate.js';
import { defaultLengths } from '../../src/method/detect.js';
import { rng } from '../../src/engine/sampling.js';

test('random heads exclude retrieval heads, never repeat, and are deterministic per seed', () => {
  const exclude = [
    { layer: 0, head: 0 },
    { layer: 1, head: 1 },
  ];
  const a = randomHeads(2, 4, 6, exclude, rng(3));
  assert.equal(a.length, 6);
  assert.ok(a.every((h) => !exclude.some((e) => e.layer === h.layer && e.head === h.head)));
  assert.equal(new Set(a.map((h) => `${h.layer}:${h.head}`)).size, 6);
  assert.deepEqual(randomHeads(2, 4, 6, exclude, rng(3)), a);
  assert.throws(() => randomHeads(2, 4, 7, exclude, rng(3)), /cannot draw 7 random heads: only 6/);
  // Over many draws every allowed head appears: the pool is all heads but the excluded ones.
  const seen = new Set<string>();
  const r = rng(5);
  for (let i = 0; i < 200; i++) for (const h of randomHeads(6, 8, 3, exclude, r)) seen.add(`${h.layer}:${h.head}`);
  assert.equal(seen.size, 48 - 2);
});

test('ranking, fresh depths and default lengths', () => {
  assert.deepEqual(
    rankHeads([
      [0.1, 0.3],
      [0.3, 0],
    ]),
    [
      { layer: 0, head: 1 },
      { layer: 1, head: 0 },
      { layer: 0, head: 0 },
      { layer: 1, head: 1 },
    ],
  );
  assert.deepEqual(freshDepths([0, 25, 50, 75, 100]), [12.5, 37.5, 62.5, 87.5]);
  assert.deepEqual(freshDepths([50]), [62.5]);
  const fresh = freshDepths([0, 11, 22, 33, 44, 56, 67, 78, 89, 100]);
  assert.ok(fresh.every((d) => ![0, 11, 22, 33, 44, 56, 67, 78, 89, 100].includes(d)));
  assert.deepEqual(defaultLengths(2048, 100_000), [256, 688, 1120, 1552, 1984]);
  assert.deepEqual(defaultLengths(2048, 600), [256, 342, 428, 514, 600], 'no longer than the text');
  assert.deepEqual(defaultLengths(300, 100_000), [236], 'a short context: one length below it');
});
