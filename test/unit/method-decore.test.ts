// DeCoRe's scoring rule on hand-made distributions: (1 + a) log p_base - a log p_masked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decoreChoice, entropy, logSoftmax } from '../../src/method/decore.js';

const logits = (probs: number[]) => Float32Array.from(probs.map((p) => Math.log(p)));

test('logSoftmax and entropy: exact on small distributions, stable for large logits', () => {
  const lp = logSoftmax([0, 0, 0, 0]);
  for (const v of lp) assert.ok(Math.abs(v - Math.log(0.25)) < 1e-12);
  assert.ok(Math.abs(entropy(lp) - Math.log(4)) < 1e-12);
  assert.equal(entropy(logSoftmax([0, -Infinity, -Infinity])), 0);
  const big = logSoftmax([1000, 1000]);
  assert.ok(Math.abs(big[0] - Math.log(0.5)) < 1e-12);
  const p = [0.7, 0.2, 0.1];
  const h = -p.reduce((a, x) => a + x * Math.log(x), 0);
  assert.ok(Math.abs(entropy(logSoftmax(logits(p))) - h) < 1e-6);
});

test('the contrast picks the token the masked model does not favour', () => {
  // Base slightly prefers token 0, which the masked model (retrieval heads off) loves: a guess the
  // model makes without its retrieval heads. Token 1 is what only the retrieval heads support.
  const base = logits([0.45, 0.4, 0.15]);
  const masked = logits([0.8, 0.05, 0.15]);
  const g = decoreChoice(base, masked, 0);
  assert.deepEqual(g, { token: 0, alpha: 0, baseToken: 0, maskedToken: 0 });
  const c = decoreChoice(base, masked, 1);
  // 2 log .45 - log .8 = -1.82; 2 log .4 - log .05 = 1.16; 2 log .15 - log .15 = -1.90.
  assert.equal(c.token, 1);
  assert.equal(c.alpha, 1);
  // Where the base model hesitates, a small a is enough: 1.1 log .45 - .1 log .8 = -0.86 against
  // 1.1 log .4 - .1 log .05 = -0.71. A clear base preference (0.9) survives the same a.
  assert.equal(decoreChoice(base, masked, 0.1).token, 1);
  assert.equal(decoreChoice(logits([0.9, 0.05, 0.05]), masked, 0.1).token, 0);
});

test('a = entropy of p_base: confident steps stay greedy, unsure ones contrast', () => {
  const masked = logits([0.8, 0.1, 0.1]);
  const sure = logits([0.98, 0.01, 0.01]);
  const r = decoreChoice(sure, masked, 'entropy');
  const h = entropy(logSoftmax(sure));
  assert.ok(Math.abs(r.alpha - h) < 1e-12 && r.alpha < 0.12);
  assert.equal(r.token, 0);
  const unsure = logits([0.36, 0.34, 0.3]);
  const u = decoreChoice(unsure, masked, 'entropy');
  assert.ok(u.alpha > 1, `entropy ${u.alpha}`);
  assert.equal(u.baseToken, 0);
  assert.equal(u.maskedToken, 0);
  assert.notEqual(u.token, 0, "the masked model's favourite loses");
});

test("a = 0 equals greedy on any logits, ties included (the first largest, as the engine's argmax)", () => {
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 20 - 10;
  for (let trial = 0; trial < 200; trial++) {
    const b = Float32Array.from({ length: 50 }, rand);
    const m = Float32Array.from({ length: 50 }, rand);
    let best = 0;
    for (let i = 1; i < b.length; i++) if (b[i] > b[best]) best = i;
    assert.equal(decoreChoice(b, m, 0).token, best);
  }
  assert.equal(decoreChoice([1, 3, 3], [0, 9, 0], 0).token, 1);
});

test('tokens the base model rules out stay out; bad input is refused', () => {
  // Token 2 is impossible for the base model and very unlikely for the masked one: its contrast
  // score would be +inf - inf; it must not be chosen.
  const c = decoreChoice([0, 0, -Infinity], [0, 0, -1e30], 5);
  assert.notEqual(c.token, 2);
  assert.throws(() => decoreChoice([0, 1], [0, 1, 2], 1), /vocabularies differ/);
  assert.throws(() => decoreChoice([0, 1], [0, 1], -1), /a must be 0 or more/);
  assert.throws(() => decoreChoice([NaN, 1], [0, 1], 1), /NaN logits/);
});
