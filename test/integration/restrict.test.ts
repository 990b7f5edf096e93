// Head restriction (a KV-cache policy's what-if): a restricted head attends only to the first
// `sink` and the last `window` positions, renormalised; nothing else changes at its layer; a
// restriction that covers the whole cache changes nothing; ops that cannot take it say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import { bundledModel, repoRoot, tempDir } from '../support/paths.js';

const cacheDir = tempDir('rl-restrict-');
const fixture = (form: string) => join(repoRoot, 'test', 'fixtures', 'models', 'llama', form);

async function rowsAt(
  dir: string,
  restrict: { heads: { layer: number; head: number }[]; sink: number; window: number } | undefined,
  prompt: number[],
) {
  const m = await loadModel(dir, { cacheDir });
  try {
    const d = m.decoder(restrict ? { restrict } : {});
    await d.prefill(prompt.slice(0, -1));
    const r = await d.step(prompt[prompt.length - 1], { attention: true });
    return { ...r, heads: m.info.heads, layers: m.info.layers };
  } finally {
    await m.dispose();
  }
}

for (const [name, dir, layer, head] of [
  ['plain (the organism)', bundledModel, 5, 0],
  ['plain fixture', fixture('plain'), 1, 2],
  ['GroupQueryAttention fixture', fixture('genai'), 1, 2],
] as const) {
  test(`${name}: a restricted head sees only its sink and window, renormalised; its layer's other heads are unchanged`, async () => {
    const prompt = Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 200));
    const sink = 3;
    const window = 5;
    const base = await rowsAt(dir, undefined, prompt);
    const cut = await rowsAt(dir, { heads: [{ layer, head }], sink, window }, prompt);
    const T = base.attention!.kvLen;
    const row = (a: Float32Array, l: number, h: number) => a.subarray((l * base.heads + h) * T, (l * base.heads + h + 1) * T);
    const p = row(base.attention!.rows, layer, head);
    const q = row(cut.attention!.rows, layer, head);
    const allowed = (j: number) => j < sink || j >= T - window;
    let mass = 0;
    for (let j = 0; j < T; j++) if (allowed(j)) mass += p[j];
    for (let j = 0; j < T; j++) {
      if (allowed(j)) assert.ok(Math.abs(q[j] - p[j] / mass) < 1e-5, `position ${j}: ${q[j]} vs ${p[j] / mass}`);
      else assert.equal(q[j], 0, `position ${j} is outside the sink and the window`);
    }
    for (let h = 0; h < base.heads; h++) {
      if (h === head) continue;
      const a = row(base.attention!.rows, layer, h);
      const b = row(cut.attention!.rows, layer, h);
      for (let j = 0; j < T; j++) assert.ok(Math.abs(a[j] - b[j]) < 1e-6);
    }
    // A sink and a window that cover every position change nothing.
    const whole = await rowsAt(dir, { heads: [{ layer, head }], sink: 0, window: T }, prompt);
    let worst = 0;
    for (let i = 0; i < base.logits.length; i++) worst = Math.max(worst, Math.abs(base.logits[i] - whole.logits[i]));
    assert.ok(worst < 1e-5, `logits moved by ${worst}`);
  });
}

test('ops whose masks take other shapes refuse a restriction in one line', async () => {
  const m = await loadModel(fixture('mha'), { cacheDir });
  try {
    assert.throws(
      () => m.decoder({ restrict: { heads: [{ layer: 0, head: 1 }], sink: 2, window: 4 } }),
      /cannot restrict heads of layer 0: MultiHeadAttention takes its masks in other shapes/,
    );
  } finally {
    await m.dispose();
  }
});
