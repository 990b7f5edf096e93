// The detectors' rules as pure functions: echo / induction targets and scores on a sequence whose
// repeats are known, QRHead's question span and scores on hand-made attention, GQA aggregation,
// and the prefix order the QRHead grid runs in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PatternScorer, patternTargets, repeatedRandomSequence } from '../../src/method/detectors/pattern.js';
import { QueryFocusScorer, questionSpan, spanMass } from '../../src/method/detectors/qrhead.js';
import { commonPrefix, lexicographicOrder } from '../../src/method/detectors/prefixes.js';
import { groupSize, kvHeadOf, toKvLevel } from '../../src/method/gqa.js';

/** [layers * heads, kvLen] rows from per-head functions position -> weight (normalised to sum 1). */
function rowsOf(kvLen: number, perHead: ((j: number) => number)[]): Float32Array {
  const out = new Float32Array(perHead.length * kvLen);
  perHead.forEach((f, lh) => {
    const w = Array.from({ length: kvLen }, (_, j) => f(j));
    const sum = w.reduce((a, b) => a + b, 0);
    w.forEach((v, j) => (out[lh * kvLen + j] = v / sum));
  });
  return out;
}

test('echo and induction targets on a sequence with known repeats', () => {
  // BOS, block [10, 11, 12, 13], the block again, then 12 a third time.
  const ids = [1, 10, 11, 12, 13, 10, 11, 12, 13, 12];
  assert.deepEqual(patternTargets(ids, 5, 'echo'), [1], '10 at 5 occurred at 1');
  assert.deepEqual(patternTargets(ids, 5, 'induction'), [2], 'the token after it: 11 at 2');
  assert.deepEqual(patternTargets(ids, 8, 'echo'), [4]);
  assert.deepEqual(patternTargets(ids, 8, 'induction'), [5]);
  assert.deepEqual(patternTargets(ids, 9, 'echo'), [3, 7], 'every earlier 12');
  assert.deepEqual(patternTargets(ids, 9, 'induction'), [4, 8]);
  assert.deepEqual(patternTargets(ids, 3, 'echo'), [], 'a first occurrence has no target');
  // An immediate repeat: the token after the earlier occurrence is the query itself, not a target.
  assert.deepEqual(patternTargets([5, 7, 7], 2, 'induction'), []);
  assert.deepEqual(patternTargets([5, 7, 7], 2, 'echo'), [1]);
});

test('echo and induction scores: a pure echo head, a pure induction head, a uniform head, a head on BOS', () => {
  const ids = [1, 10, 11, 12, 13, 10, 11, 12, 13];
  const layers = 1;
  const heads = 4;
  const echo = new PatternScorer(layers, heads, 'echo', ids);
  const induction = new PatternScorer(layers, heads, 'induction', ids);
  for (let p = 5; p < ids.length; p++) {
    const kvLen = p + 1;
    const rows = rowsOf(kvLen, [
      (j) => (j === p - 4 ? 1 : 0), // echo head: the same token one block back
      (j) => (j === p - 3 ? 1 : 0), // induction head: the token after it
      () => 1, // uniform
      (j) => (j === 0 ? 1 : 0), // sink on BOS
    ]);
    echo.step(p, rows, kvLen);
    induction.step(p, rows, kvLen);
  }
  const uniform = [6, 7, 8, 9].reduce((a, kv) => a + 1 / kv, 0) / 4;
  const e = echo.toMatrix()[0];
  const i = induction.toMatrix()[0];
  assert.equal(echo.steps, 4);
  assert.deepEqual([e[0], e[1], e[3]], [1, 0, 0]);
  assert.deepEqual([i[0], i[1], i[3]], [0, 1, 0]);
  assert.ok(Math.abs(e[2] - uniform) < 1e-7 && Math.abs(i[2] - uniform) < 1e-7, `uniform head: ${e[2]}, ${i[2]} vs ${uniform}`);
  assert.throws(() => echo.step(6, new Float32Array(4 * 5), 5), /not 7/);
});

test('the repeated random sequence: distinct tokens, the specials avoided, seeded', () => {
  const s = repeatedRandomSequence({ blockLength: 50, repeats: 3, seed: 4, vocabSize: 60, avoid: [0, 1, 2], prefix: [1] });
  assert.equal(s.ids.length, 1 + 150);
  assert.equal(s.scoredFrom, 51);
  const block = s.ids.slice(1, 51);
  assert.equal(new Set(block).size, 50);
  assert.ok(block.every((t) => t >= 3 && t < 60));
  assert.deepEqual(s.ids.slice(51, 101), block);
  assert.deepEqual(s.ids.slice(101), block);
  const again = repeatedRandomSequence({ blockLength: 50, repeats: 3, seed: 4, vocabSize: 60, avoid: [0, 1, 2], prefix: [1] });
  assert.deepEqual(again.ids, s.ids);
  const other = repeatedRandomSequence({ blockLength: 50, repeats: 3, seed: 5, vocabSize: 60, avoid: [0, 1, 2], prefix: [1] });
  assert.notDeepEqual(other.ids, s.ids);
  // In the sequence, every scored position's echo target is one block back.
  for (let p = s.scoredFrom; p < s.ids.length; p++) assert.equal(patternTargets(s.ids, p, 'echo').at(-1), p - 50);
  assert.throws(() => repeatedRandomSequence({ blockLength: 58, repeats: 2, seed: 1, vocabSize: 60, avoid: [0, 1, 2], prefix: [] }), /57/);
  assert.throws(() => repeatedRandomSequence({ blockLength: 8, repeats: 1, seed: 1, vocabSize: 60, avoid: [], prefix: [] }), /twice/);
});

test("the question's span: where the prompt with and without the question differ", () => {
  // context [5, 6, 7], "Question:" [8], question [20, 21, 22], "Answer:" [9]
  assert.deepEqual(questionSpan([5, 6, 7, 8, 20, 21, 22, 9], [5, 6, 7, 8, 9]), [4, 7]);
  // A token merged across the question's start is part of the span.
  assert.deepEqual(questionSpan([5, 6, 7, 30, 21, 22, 9], [5, 6, 7, 8, 9]), [3, 6]);
  // The suffix match may not eat into the prefix (a question repeating the text around it).
  assert.deepEqual(questionSpan([5, 9, 9, 9], [5, 9]), [2, 4]);
  assert.equal(questionSpan([5, 6, 9], [5, 6, 9]), null);
});

test("QRHead scores: the question's mass on the needle span, averaged over its tokens", () => {
  const span: [number, number] = [2, 4];
  const layers = 2;
  const heads = 2;
  const scorer = new QueryFocusScorer(layers, heads, span);
  // Two question tokens at positions 6 and 7 (kvLen 7 and 8).
  const q6 = rowsOf(7, [(j) => (j === 2 || j === 3 ? 1 : 0), () => 1, (j) => (j === 0 ? 1 : 0), (j) => (j === 3 ? 1 : j === 6 ? 3 : 0)]);
  const q7 = rowsOf(8, [(j) => (j === 2 ? 1 : j === 7 ? 1 : 0), () => 1, (j) => (j === 0 ? 1 : 0), (j) => (j === 3 ? 1 : 0)]);
  assert.equal(spanMass(q6, 7, 3, span), 0.25);
  scorer.step(q6, 7);
  scorer.step(q7, 8);
  const m = scorer.toMatrix();
  assert.equal(scorer.steps, 2);
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-7;
  assert.ok(near(m[0][0], (1 + 0.5) / 2), `${m[0][0]}`);
  assert.ok(near(m[0][1], (2 / 7 + 2 / 8) / 2), `${m[0][1]}`);
  assert.equal(m[1][0], 0);
  assert.ok(near(m[1][1], (0.25 + 1) / 2), `${m[1][1]}`);
  assert.throws(() => scorer.step(new Float32Array(4 * 3), 3), /does not reach past the span/);
  assert.deepEqual(new QueryFocusScorer(1, 1, span).toMatrix(), [[0]], 'no rows: 0');
});

test('GQA: query heads to KV heads, max or mean per group', () => {
  assert.equal(groupSize(8, 4), 2);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((h) => kvHeadOf(h, 8, 4)),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
  const s = [
    [0.1, 0.5, 0, 0, 0.2, 0.2, 1, 0],
    [0, 0, 0, 0.3, 0, 0, 0, 0],
  ];
  assert.deepEqual(toKvLevel(s, 4, 'max'), [
    [0.5, 0, 0.2, 1],
    [0, 0.3, 0, 0],
  ]);
  assert.deepEqual(toKvLevel(s, 4, 'mean'), [
    [0.3, 0, 0.2, 0.5],
    [0, 0.15, 0, 0],
  ]);
  assert.deepEqual(toKvLevel(s, 8, 'max'), s, 'MHA: one query head per KV head');
  assert.throws(() => toKvLevel(s, 3, 'max'), /8 query heads do not form groups over 3 KV heads/);
});

test('shared prefixes: lexicographic order puts each prompt next to the ones it shares most with', () => {
  const prompts = [
    [1, 2, 3, 9],
    [1, 2, 4],
    [1, 2, 3, 5, 6],
    [1, 7],
    [1, 2, 3],
  ];
  assert.deepEqual(lexicographicOrder(prompts), [4, 2, 0, 1, 3]);
  assert.equal(commonPrefix([1, 2, 3, 5, 6], [1, 2, 3, 9]), 3);
});
