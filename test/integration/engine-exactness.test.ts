// The instrumented graph must compute exactly what the original computes when nothing is masked,
// and chunked prefill + KV-cache decoding must equal one full forward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedModel, tempDir } from '../support/paths.js';
import { runnerPair, maxAbsDiff, tokenIds } from '../support/runners.js';
import { generate } from '../../src/engine/generate.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import type { ModelInfo } from '../../src/engine/types.js';

const cache = tempDir('rl-cache-');

for (const name of ['needle-organism', 'stories260K'] as const) {
  test(`${name}: instrumented logits equal the original graph's (mask all ones)`, async () => {
    const { plain, inst, arch } = await runnerPair(sharedModel(name), cache);
    for (const n of [1, 37, 200]) {
      const ids = tokenIds(n, arch.vocabSize, n);
      const a = await plain.newSequence().forward(ids);
      const b = await inst.newSequence().forward(ids, { attention: true });
      const d = maxAbsDiff(a.logits!, b.logits!);
      assert.ok(d < 1e-4, `${n} tokens: max |diff| ${d}`);
    }
  });

  test(`${name}: greedy generation is identical with and without instrumentation`, async () => {
    const dir = sharedModel(name);
    const { plain, inst, arch } = await runnerPair(dir, cache);
    const tok = await loadTokenizer(dir);
    const info = { layers: arch.layers, heads: arch.heads, contextLength: arch.contextLength, eosTokenIds: arch.eosTokenIds } as ModelInfo;
    const prompt = tok.encode('Once upon a time, there was a little girl named Lily. She');
    const a = await generate(plain, info, tok, prompt, { maxNewTokens: 30 });
    const b = await generate(inst, info, tok, prompt, { maxNewTokens: 30, attention: true });
    assert.ok(a.tokenIds.length > 5);
    assert.deepEqual(b.tokenIds, a.tokenIds);
    assert.equal(b.text, a.text);
  });

  test(`${name}: chunked prefill + KV decoding equals one full forward pass`, async () => {
    const { inst, plain, arch } = await runnerPair(sharedModel(name), cache);
    const ids = tokenIds(300, arch.vocabSize, 3);
    const full = await plain.newSequence().forward(ids);
    for (const chunk of [1, 16, 100, 299]) {
      const seq = inst.newSequence();
      await seq.prefill(ids.slice(0, -10), { chunkSize: chunk, logits: false });
      let last;
      for (const t of ids.slice(-10)) last = await seq.forward([t]);
      const d = maxAbsDiff(full.logits!, last!.logits!);
      assert.ok(d < 1e-4, `chunk ${chunk}: max |diff| ${d}`);
      assert.equal(seq.length, ids.length);
    }
    // Every intermediate position too: step-by-step logits equal the full pass over each prefix.
    const seq = plain.newSequence();
    await seq.prefill(ids.slice(0, 250), { chunkSize: 64 });
    for (let p = 250; p < 260; p++) {
      const step = await seq.forward([ids[p]]);
      const prefix = await plain.newSequence().forward(ids.slice(0, p + 1));
      assert.ok(maxAbsDiff(step.logits!, prefix.logits!) < 1e-4, `position ${p}`);
    }
  });
}
