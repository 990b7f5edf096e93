// The shared-prefix KV cache (src/engine/prefix.ts): a prompt is served from whichever cached
// prompt shares the most with it, not only from the longest one; what is kept besides the longest
// prompt fits the budget, and is what the prompts said to be coming will reuse; and a generation
// served from the cache gives what a whole prefill gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/engine/index.js';
import { PrefixCache } from '../../src/engine/prefix.js';
import { kvBytesPerPosition } from '../../src/engine/kv.js';
import { sharedModel, tempDir } from '../support/paths.js';

const cacheDir = tempDir('rl-prefix-cache-');
const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 5 + ((i * 37 + seed * 101) % 200));

test('a prompt is served from the cached prompt sharing the most with it, and generates what a whole prefill does', async () => {
  const model = await loadModel(sharedModel('needle-organism'), { cacheDir });
  try {
    const longest = ids(300, 1);
    // Diverges from the longest early, then runs on: what a depth-0 needle case looks like.
    const early = [...longest.slice(0, 40), ...ids(200, 2)];
    // Shares 220 positions with `early`, 40 with `longest`.
    const later = [...early.slice(0, 220), ...ids(30, 3)];
    const cache = model.prefixCache();
    const gen = (p: number[], prefix?: ReturnType<typeof model.prefixCache>) =>
      model.generate(p, { maxNewTokens: 6, stopTokens: [], prefix });
    await gen(longest, cache);
    await gen(early, cache);
    const before = cache.reused;
    const served = await gen(later, cache);
    assert.equal(cache.reused - before, 220, 'served from the prompt sharing 220 positions, not the longest (40)');
    const whole = await gen(later);
    assert.deepEqual(served.tokenIds, whole.tokenIds);
    assert.equal(served.tokenIds.length, 6);
  } finally {
    await model.dispose();
  }
});

test('besides the longest prompt, the cache keeps what fits its budget, the prompts with the most fresh positions first', async () => {
  const model = await loadModel(sharedModel('needle-organism'), { cacheDir });
  try {
    const perPosition = kvBytesPerPosition(model.runner.shape);
    const longest = ids(300, 1);
    const many = [...longest.slice(0, 20), ...ids(200, 4)]; // 200 fresh positions
    const few = [...longest.slice(0, 150), ...ids(60, 5)]; // 60 fresh positions
    // Room for one of the two besides the longest.
    const cache = new PrefixCache(model.runner, 230 * perPosition);
    const run = (p: number[]) => model.generate(p, { maxNewTokens: 1, stopTokens: [], prefix: cache });
    await run(longest);
    await run(few);
    await run(many); // displaces `few`
    let before = cache.reused;
    await run([...many.slice(0, 180), 7, 8, 9]);
    assert.equal(cache.reused - before, 180, '`many` is kept');
    before = cache.reused;
    await run([...few.slice(0, 190), 7, 8, 9]);
    assert.equal(cache.reused - before, 150, '`few` was let go: only the longest serves it');
    // A prompt that adds nothing new is not kept twice.
    before = cache.reused;
    await run(longest.slice(0, 100));
    await run([...longest.slice(0, 100), 1, 2]);
    assert.equal(cache.reused - before, 99 + 100);
  } finally {
    await model.dispose();
  }
});

test('told which prompts are coming, the cache keeps what they reuse rather than the most fresh positions', async () => {
  const model = await loadModel(sharedModel('needle-organism'), { cacheDir });
  try {
    const perPosition = kvBytesPerPosition(model.runner.shape);
    const longest = ids(300, 1);
    const many = [...longest.slice(0, 20), ...ids(200, 4)];
    const few = [...longest.slice(0, 150), ...ids(60, 5)];
    const next = [...few.slice(0, 190), 7, 8, 9];
    const cache = new PrefixCache(model.runner, 230 * perPosition);
    cache.expect([few, many, next]);
    const run = (p: number[]) => model.generate(p, { maxNewTokens: 1, stopTokens: [], prefix: cache });
    await run(longest);
    await run(few);
    await run(many); // more fresh positions, but nothing coming reuses them
    const before = cache.reused;
    const served = await model.generate(next, { maxNewTokens: 4, stopTokens: [], prefix: cache });
    assert.equal(cache.reused - before, 190, '`few` is kept (cut to the 190 positions `next` shares), not `many`');
    assert.deepEqual(served.tokenIds, (await model.generate(next, { maxNewTokens: 4, stopTokens: [] })).tokenIds);
  } finally {
    await model.dispose();
  }
});
