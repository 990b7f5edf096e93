// GroupQueryAttention rewritten to read the KV cache in place (src/engine/gqaInPlace.ts): on every
// GenAI fixture family the rewritten graph gives the op's logits through chunked prefill, decoding
// and a batch of rows of different lengths, and each step hands back only its new positions.
// Sites the rewrite does not cover keep the op.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeModel, graphSession, runnerShape } from '../../src/engine/model.js';
import { createSession } from '../../src/engine/session.js';
import { Runner } from '../../src/engine/runner.js';
import { instrumentModel } from '../../src/engine/instrument.js';
import { inPlaceRefusal } from '../../src/engine/gqaInPlace.js';
import { DT, onnx, setIntAttr } from '../../src/engine/graph.js';
import { tokenIds } from '../support/runners.js';
import { repoRoot, tempDir } from '../support/paths.js';
import { checkAppendSteps, checkChunkedAgainst } from '../support/append.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'models');
const cacheDir = tempDir('rl-gqa-inplace-');
const families = readdirSync(fixtures).filter((f) => existsSync(join(fixtures, f, 'genai', 'model.onnx')));

test('the GenAI fixtures cover windowed, soft-capped and separate-QKV attention', () => {
  assert.ok(families.length >= 6, families.join(', '));
});

for (const family of families) {
  test(`${family}/genai: the in-place rewrite gives the op's logits and returns only new positions`, async () => {
    const d = await describeModel(join(fixtures, family, 'genai'), { cacheDir });
    assert.ok(
      d.graph.attention.every((s) => s.inPlace),
      'every site rewritten',
    );
    const a = d.arch;
    const shape = runnerShape(a, d.graph);
    const inst = new Runner(await graphSession(d.graph), shape, d.graph.io);
    assert.equal(inst.kvMode, 'append', 'the session says it returns new positions');
    const op = new Runner(await createSession(d.onnxFile.path), shape);
    op.kvMode = 'shared';
    // Longer than the fixtures' window (8), in chunks that straddle it.
    const ids = tokenIds(29, a.vocabSize, 5);
    const mine = inst.newSequence();
    const theirs = op.newSequence();
    await checkChunkedAgainst(mine, theirs, ids, [7, 19, 26, 27, 28, 29]);
    // One position per KV head each step; a batch of rows of different lengths as each alone.
    await checkAppendSteps(inst, shape, mine, [20, 29, 11], ids[3]);
  });
}

test('a GroupQueryAttention the rewrite does not cover keeps the op, for every layer', () => {
  const model = onnx.ModelProto.decode(readFileSync(join(fixtures, 'qwen2', 'genai', 'model.onnx')));
  const gqa = model.graph!.node!.filter((n) => n.opType === 'GroupQueryAttention');
  assert.equal(inPlaceRefusal(model.graph!, gqa[0], DT.FLOAT), null);
  assert.match(inPlaceRefusal(model.graph!, gqa[0], DT.FLOAT16) ?? '', /float32/);
  setIntAttr(gqa[1], 'smooth_softmax', 1);
  assert.match(inPlaceRefusal(model.graph!, gqa[1], DT.FLOAT) ?? '', /smooth softmax/);
  const config = JSON.parse(readFileSync(join(fixtures, 'qwen2', 'genai', 'genai_config.json'), 'utf8')).model.decoder;
  const result = instrumentModel(model, {
    layers: config.num_hidden_layers,
    heads: config.num_attention_heads,
    kvHeads: config.num_key_value_heads,
    headDim: config.head_size,
    windowed: false,
  });
  assert.ok(result.attention.every((s) => !s.inPlace));
  assert.equal(model.graph!.node!.filter((n) => n.opType === 'GroupQueryAttention').length, gqa.length);
});
