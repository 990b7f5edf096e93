// The instrumented graph must let onnxruntime free each layer's full attention probabilities
// ([batch, heads, chunk, kvLen]) before the next layer computes its own: the exposed last rows of
// layer L must be an ancestor of layer L+1's attention. Without that data edge onnxruntime ran every
// layer's slice after the last layer and a prefill chunk held all layers' probabilities at once
// (8K tokens on Qwen2.5-0.5B's shape: 3.8 GB peak instead of 2.7 GB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeModel } from '../../src/engine/model.js';
import { instrumentedGraph } from '../../src/engine/cache.js';
import { onnx, subgraphs, type GraphProto, type ModelProto, type NodeProto } from '../../src/engine/graph.js';
import { readArchConfig } from '../../src/engine/config.js';
import { makeMergedCopy } from '../fixtures/mergedDecoder.js';
import { repoRoot, sharedModel, tempDir } from '../support/paths.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'models');
const cacheDir = tempDir('rl-order-');
const SLICE = /^retrieval_lens\/(b\d+\/)?L(\d+)\/slice_last$/;

/** Every graph that holds attention slices: the main graph and If branches. */
function graphsWithSlices(g: GraphProto): GraphProto[] {
  const inner = (g.node ?? []).flatMap((n) => subgraphs(n).flatMap(graphsWithSlices));
  return (g.node ?? []).some((n) => SLICE.test(n.name ?? '')) ? [g, ...inner] : inner;
}

/** Names of every tensor `start` is computed from (inside this graph). */
function ancestors(g: GraphProto, start: NodeProto): Set<string> {
  const producer = new Map<string, NodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const seen = new Set<string>();
  const stack = [...(start.input ?? [])];
  while (stack.length) {
    const x = stack.pop()!;
    if (!x || seen.has(x)) continue;
    seen.add(x);
    stack.push(...(producer.get(x)?.input ?? []));
  }
  return seen;
}

/** Checks every layer after the first waits for the previous layer's exposed rows; returns how many layers were checked. */
function checkOrder(model: ModelProto, label: string): number {
  let checked = 0;
  for (const g of graphsWithSlices(model.graph!)) {
    const producer = new Map<string, NodeProto>();
    for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
    const byLayer = new Map<number, NodeProto>();
    for (const n of g.node ?? []) {
      const m = SLICE.exec(n.name ?? '');
      if (m) byLayer.set(Number(m[2]), n);
    }
    for (const [layer, slice] of byLayer) {
      if (layer === 0) continue;
      // The node writing what the slice reads is the layer's attention (fused op, or the Softmax).
      const attention = producer.get(slice.input![0])!;
      const prevRows = byLayer.get(layer - 1)!.output![0];
      assert.ok(
        ancestors(g, attention).has(prevRows),
        `${label}: layer ${layer}'s ${attention.opType} does not wait for layer ${layer - 1}'s exposed rows`,
      );
      checked++;
    }
  }
  return checked;
}

const families = readdirSync(fixtures).filter((f) => existsSync(join(fixtures, f, 'golden.json')));
for (const family of families) {
  test(`${family}: every form's layers free their attention probabilities before the next layer runs`, async () => {
    const forms = readdirSync(join(fixtures, family)).filter((f) => !f.includes('.'));
    assert.ok(forms.length >= 5, `forms of ${family}: ${forms.join(', ')}`);
    for (const form of forms) {
      const d = await describeModel(join(fixtures, family, form), { cacheDir });
      const model = onnx.ModelProto.decode(d.graph.path ? readFileSync(d.graph.path) : d.graph.bytes!);
      assert.equal(checkOrder(model, `${family}/${form}`), d.arch.layers - 1, `${family}/${form}: layers checked`);
    }
  });
}

test('a merged decoder orders its layers the same way inside both If branches', async () => {
  const dir = sharedModel('stories260K');
  const arch = readArchConfig(dir);
  const merged = join(tempDir('rl-merged-'), 'onnx', 'decoder_model_merged.onnx');
  makeMergedCopy(join(dir, 'onnx', 'model.onnx'), merged);
  const g = await instrumentedGraph(
    merged,
    { layers: arch.layers, heads: arch.heads, kvHeads: arch.kvHeads, headDim: arch.headDim, windowed: arch.windowed },
    cacheDir,
  );
  const model = onnx.ModelProto.decode(g.path ? readFileSync(g.path) : g.bytes!);
  assert.equal(checkOrder(model, 'merged'), 2 * (arch.layers - 1));
});
