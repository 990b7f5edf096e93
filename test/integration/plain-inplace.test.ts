// Plain attention rewritten to read the KV cache in place (src/engine/plainInPlace.ts): on every
// fixture family and plain-attention form the rewritten graph gives the export's logits through
// chunked prefill, decoding and a batch of rows of different lengths, its exposed rows are laid
// out by position as before, and each step hands back only its new positions. Windowed families
// and fp16 caches keep the export's concatenation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeModel, graphSession, loadModel, runnerShape } from '../../src/engine/model.js';
import { instrumentedGraph } from '../../src/engine/cache.js';
import { createSession } from '../../src/engine/session.js';
import { Runner } from '../../src/engine/runner.js';
import { onnx } from '../../src/engine/graph.js';
import { maxAbsDiff, tokenIds } from '../support/runners.js';
import { repoRoot, tempDir } from '../support/paths.js';
import { checkAppendSteps, checkChunkedAgainst } from '../support/append.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'models');
const cacheDir = tempDir('rl-plain-inplace-');
const FORMS: [string, string | undefined][] = [
  ['plain', undefined],
  ['sdpa', undefined],
  ['external', undefined],
  ['q4', 'q4'],
];
// Every family above has grouped-query attention; this one has a KV head per query head, so its
// exports have no repeat_kv (test/fixtures/mha-plain/README.md).
const mha = join(repoRoot, 'test', 'fixtures', 'mha-plain');
const cases = [
  ...readdirSync(fixtures).flatMap((family) =>
    FORMS.filter(([form]) => existsSync(join(fixtures, family, form, 'config.json'))).map(([form, dtype]) => ({
      family,
      form,
      dtype,
      dir: join(fixtures, family, form),
    })),
  ),
  ...['plain', 'sdpa'].map((form) => ({ family: 'mha-plain', form, dtype: undefined, dir: join(mha, form) })),
];

test('the fixtures hold plain attention with and without sliding windows, grouped and not', () => {
  const config = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const windowed = cases.filter((c) => config(c.dir).sliding_window);
  const ungrouped = cases.filter((c) => config(c.dir).num_key_value_heads === config(c.dir).num_attention_heads);
  assert.ok(cases.length >= 22 && windowed.length >= 5 && ungrouped.length >= 2, `${cases.length} cases, ${windowed.length} windowed`);
});

for (const { family, form, dtype, dir } of cases) {
  test(`${family}/${form}: in place where the config allows, with the export's logits and rows`, async () => {
    const d = await describeModel(dir, { cacheDir, dtype });
    const a = d.arch;
    const shape = runnerShape(a, d.graph);
    const inst = new Runner(await graphSession(d.graph), shape, d.graph.io);
    const expectInPlace = !a.windowed;
    assert.equal(inst.kvMode === 'append', expectInPlace, `kv mode ${inst.kvMode}, windowed ${a.windowed}`);
    assert.ok(d.graph.attention.every((s) => Boolean(s.inPlace) === expectInPlace));
    if (!expectInPlace) return;
    const graph = onnx.ModelProto.decode(d.graph.path ? readFileSync(d.graph.path) : d.graph.bytes!).graph!;
    const pasts = new Set(d.graph.io.past.flat());
    assert.ok(
      !graph.node!.some((n) => n.opType === 'Concat' && n.input!.some((i) => pasts.has(i))),
      'no node concatenates the cache any more',
    );
    const op = new Runner(await createSession(d.onnxFile.path), shape);
    op.kvMode = 'pingpong';
    const ids = tokenIds(29, a.vocabSize, 5);
    const mine = inst.newSequence();
    const theirs = op.newSequence();
    await checkChunkedAgainst(mine, theirs, ids, [7, 19, 26, 27, 28]);
    // The exposed rows match the concatenating rewrite's (what `windowed` makes it keep), by position.
    const refGraph = await instrumentedGraph(
      d.onnxFile.path,
      { layers: a.layers, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim, windowed: true },
      cacheDir,
      d.onnxFile.hints,
    );
    const ref = new Runner(await graphSession(refGraph), shape, refGraph.io);
    ref.kvMode = 'pingpong';
    const refSeq = ref.newSequence();
    await refSeq.prefill(ids.slice(0, 28), { chunkSize: 12 });
    const mask = new Float32Array(shape.layers * shape.heads).fill(1);
    mask[1] = 0;
    const opts = {
      attention: true,
      attentionRows: 2,
      mask,
      restrict: { heads: new Float32Array(shape.layers * shape.heads).fill(1), sink: 2, window: 5 },
    };
    const fork = mine.fork(27, 2);
    const refFork = refSeq.fork(27, 2);
    const x = await fork.forward(ids.slice(27, 29), { ...opts, restrict: null });
    const y = await refFork.forward(ids.slice(27, 29), { ...opts, restrict: null });
    assert.ok(maxAbsDiff(x.attention!, y.attention!) < 1e-5, 'two rows, a head masked');
    const xr = await fork.forward([ids[4]], opts);
    const yr = await refFork.forward([ids[4]], opts);
    assert.ok(maxAbsDiff(xr.attention!, yr.attention!) < 1e-5, 'heads restricted to a sink and a window');
    assert.ok(maxAbsDiff(xr.logits!, yr.logits!) < 1e-4, 'restricted logits');
    // One position per KV head each step; a batch of rows of different lengths as each alone.
    await checkAppendSteps(inst, shape, mine, [20, 28, 11], ids[3]);
  });
}

test('a graph whose mask ignores attention_mask is caught at load and keeps the concatenation', async () => {
  const src = join(fixtures, 'llama', 'plain');
  const good = await loadModel(src, { cacheDir });
  assert.equal(good.info.kvCache, 'append');
  // The same export with its mask built from ones of attention_mask's shape: it masks no column.
  const dir = tempDir('rl-plain-nomask-');
  cpSync(src, dir, { recursive: true });
  const path = join(dir, 'onnx', 'model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(path));
  const g = model.graph!;
  for (const n of g.node!) n.input = n.input!.map((i) => (i === 'attention_mask' ? 'ones_like_mask' : i));
  const one = onnx.TensorProto.create({
    dims: [1],
    dataType: onnx.TensorProto.DataType.INT64,
    rawData: new Uint8Array(new BigInt64Array([1n]).buffer),
  });
  g.node!.unshift(
    onnx.NodeProto.create({ opType: 'Shape', input: ['attention_mask'], output: ['mask_shape'], name: 'mask_shape' }),
    onnx.NodeProto.create({
      opType: 'ConstantOfShape',
      input: ['mask_shape'],
      output: ['ones_like_mask'],
      name: 'ones_like_mask',
      attribute: [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: one })],
    }),
  );
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  const warnings: string[] = [];
  const bad = await loadModel(dir, { cacheDir, onProgress: (p) => p.stage === 'warning' && warnings.push(p.message ?? '') });
  assert.notEqual(bad.info.kvCache, 'append');
  assert.match(warnings.join('\n'), /does not mask unused KV-cache columns/);
  const ids = tokenIds(40, good.info.vocabSize, 2);
  const want = await good.generate(ids, { maxNewTokens: 8, stopTokens: [] });
  const got = await bad.generate(ids, { maxNewTokens: 8, stopTokens: [] });
  assert.deepEqual(got.tokenIds, want.tokenIds);
  await good.dispose();
  await bad.dispose();
});
