// The per-step retrieval score on hand-made attention tensors, and aggregation over cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaseScorer } from '../../src/method/score.js';
import { summarize, meanScores, alwaysActive, retrievalHeads, accuracyGrid } from '../../src/method/aggregate.js';
import type { CaseResult } from '../../src/method/types.js';

test('score rule on a hand-made attention tensor [layers, heads, kvLen]', () => {
  // 2 layers x 2 heads, prompt of 6 tokens, answer span [2, 5) holding tokens 40 41 42.
  const prompt = [1, 7, 40, 41, 42, 9];
  const s = new CaseScorer(2, 2, prompt, [2, 5]);
  const kv = 7;
  const rows = new Float32Array(2 * 2 * kv).fill(0.01);
  const put = (l: number, h: number, pos: number) => (rows[(l * 2 + h) * kv + pos] = 0.9);
  put(0, 0, 3); // in span, token 41 == generated 41: +1/3
  put(0, 1, 4); // in span but token 42 != 41: nothing
  put(1, 0, 5); // token 9 outside span: nothing
  put(1, 1, 3); // +1/3
  s.step(rows, kv, 41);
  s.step(rows, kv, 41); // credit is per step: a case can exceed 1/|span| per head
  const m = s.toMatrix();
  assert.ok(Math.abs(m[0][0] - 2 / 3) < 1e-12);
  assert.equal(m[0][1], 0);
  assert.equal(m[1][0], 0);
  assert.ok(Math.abs(m[1][1] - 2 / 3) < 1e-12);
});

test('score rule: only the top-1 position counts, ties go to the first, generated positions never match', () => {
  const prompt = [1, 40, 41, 41, 9];
  const s = new CaseScorer(1, 3, prompt, [1, 4]);
  const kv = 7; // 5 prompt positions + 2 generated
  const rows = new Float32Array(3 * kv);
  rows.set([0, 0.3, 0.2, 0.2, 0.29, 0, 0], 0); // head 0: argmax 1 (token 40)
  rows.set([0, 0.1, 0.4, 0.4, 0, 0.1, 0], kv); // head 1: tie 2/3 -> 2 (token 41)
  rows.set([0, 0.2, 0.2, 0, 0, 0, 0.6], 2 * kv); // head 2: argmax on a generated position
  s.step(rows, kv, 41);
  assert.deepEqual(s.toMatrix(), [[0, 1 / 3, 0]]);
  s.step(rows, kv, 40);
  assert.deepEqual(s.toMatrix(), [[1 / 3, 1 / 3, 0]]);
  // A head scoring every step of a 3-token copy plus the newline step scores 1 for the case.
  const full = new CaseScorer(1, 1, [5, 50, 51, 52, 6], [1, 4]);
  for (const [pos, tok] of [
    [1, 50],
    [2, 51],
    [3, 52],
  ]) {
    const r = new Float32Array(6);
    r[pos] = 1;
    full.step(r, 6, tok);
  }
  full.step(new Float32Array(6).fill(0.1), 6, 13);
  assert.ok(Math.abs(full.toMatrix()[0][0] - 1) < 1e-12);
});

function fakeCase(scores: number[][], success: boolean, length = 256, depth = 0): CaseResult {
  return {
    length,
    depth,
    needleId: 'n',
    promptTokens: 10,
    span: [1, 2],
    success,
    rougeRecall: success ? 1 : 0,
    response: '',
    question: '',
    scores,
  };
}

test('aggregation: mean over counted cases, threshold, always-active heads, accuracy grid', () => {
  const cases = [
    fakeCase(
      [
        [0.3, 0],
        [0.1, 0.05],
      ],
      true,
      256,
      0,
    ),
    fakeCase(
      [
        [0.1, 0],
        [0, 0.05],
      ],
      true,
      256,
      50,
    ),
    fakeCase(
      [
        [9, 9],
        [9, 9],
      ],
      false,
      512,
      0,
    ),
  ];
  const f = summarize({ id: 'm', layers: 2, heads: 2 }, {}, cases, 0.1);
  assert.deepEqual(
    meanScores(
      cases.filter((c) => c.success),
      2,
      2,
    ),
    [
      [0.2, 0],
      [0.05, 0.05],
    ],
  );
  assert.deepEqual(
    f.scores,
    [
      [0.2, 0],
      [0.05, 0.05],
    ],
    'the failed case counts for no head',
  );
  assert.deepEqual(f.retrievalHeads, [[0, 0, 0.2]]);
  assert.equal(f.summary.countedCases, 2);
  assert.equal(f.summary.failedCases, 1);
  assert.equal(f.summary.fractionRetrieval, 0.25);
  assert.deepEqual(
    alwaysActive(
      cases.filter((c) => c.success),
      2,
      2,
    ),
    [
      [0, 0],
      [1, 1],
    ],
  );
  assert.deepEqual(f.summary.alwaysActive, [
    [0, 0],
    [1, 1],
  ]);
  assert.deepEqual(f.summary.accuracy, {
    lengths: [256, 512],
    depths: [0, 50],
    values: [
      [1, 1],
      [0, 0],
    ],
  });
  assert.deepEqual(retrievalHeads([[0.1, 0.09]], 0.1), [[0, 0, 0.1]], 'at the threshold counts');
  assert.deepEqual(
    retrievalHeads(
      [
        [0.2, 0.5],
        [0.5, 0],
      ],
      0.1,
    ),
    [
      [0, 1, 0.5],
      [1, 0, 0.5],
      [0, 0, 0.2],
    ],
    'sorted by score, ties by position',
  );
  const none = summarize({ id: 'm', layers: 1, heads: 2 }, {}, [fakeCase([[1, 1]], false)]);
  assert.deepEqual([none.scores, none.retrievalHeads, none.summary.alwaysActive], [[[0, 0]], [], []], 'no counted case: zeros, no heads');
  const grid = accuracyGrid([
    { length: 512, depth: 50, success: true },
    { length: 512, depth: 50, success: false },
    { length: 256, depth: 50, success: true },
  ]);
  assert.deepEqual(grid, { lengths: [256, 512], depths: [50], values: [[1], [0.5]] });
});
