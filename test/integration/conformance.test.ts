// Conformance against Hugging Face transformers: every fixture family x ONNX form in
// test/fixtures/models (see its README) is loaded through the engine and must reproduce the goldens
// that transformers' eager attention recorded: greedy ids, every head's last-row attention at
// several steps, and greedy ids with one head masked the paper's way during decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import { repoRoot, tempDir } from '../support/paths.js';

interface Golden {
  ids: number[];
  margins: number[];
  attention: Record<string, number[][][]>;
  masked_ids: number[];
}

interface GoldenFile {
  family: string;
  prompt_ids: number[];
  max_new_tokens: number;
  attention_steps: number[];
  mask_head: { layer: number; head: number };
  goldens: Record<string, Golden>;
  forms: Record<string, { golden: string; rows_atol: number }>;
}

const fixtures = process.env.FIXTURES ?? join(repoRoot, 'test', 'fixtures', 'models');
const cacheDir = tempDir('rl-conformance-');
const families = existsSync(fixtures) ? readdirSync(fixtures).filter((f) => existsSync(join(fixtures, f, 'golden.json'))) : [];

test('the conformance fixtures are present', () => {
  assert.ok(families.length >= 6, `expected at least 6 fixture families in ${fixtures}, found ${families.join(', ') || 'none'}`);
});

for (const family of families) {
  const golden = JSON.parse(readFileSync(join(fixtures, family, 'golden.json'), 'utf8')) as GoldenFile;
  for (const [form, spec] of Object.entries(golden.forms)) {
    test(`${family} / ${form}: greedy ids, attention rows and masked ids equal transformers' (rows within ${spec.rows_atol})`, async () => {
      const g = golden.goldens[spec.golden];
      assert.ok(g, `golden "${spec.golden}" exists`);
      const model = await loadModel(join(fixtures, family, form), { cacheDir });
      try {
        const steps = new Set(golden.attention_steps);
        const rows = new Map<number, { kvLen: number; rows: Float32Array }>();
        const { layers, heads } = model.info;
        const r = await model.generate(golden.prompt_ids, {
          maxNewTokens: golden.max_new_tokens,
          stopTokens: [],
          attention: true,
          onStep: (step, i) => {
            if (steps.has(i)) rows.set(i, { kvLen: step.attention!.kvLen, rows: Float32Array.from(step.attention!.rows) });
          },
        });
        assert.deepEqual(r.tokenIds, g.ids, 'greedy ids');
        for (const s of golden.attention_steps) {
          const want = g.attention[String(s)]; // [layers][heads][kvLen]
          const got = rows.get(s)!;
          assert.equal(got.kvLen, want[0][0].length, `step ${s}: kv length`);
          let worst = 0;
          for (let l = 0; l < layers; l++) {
            for (let h = 0; h < heads; h++) {
              for (let j = 0; j < got.kvLen; j++)
                worst = Math.max(worst, Math.abs(got.rows[(l * heads + h) * got.kvLen + j] - want[l][h][j]));
            }
          }
          assert.ok(worst <= spec.rows_atol, `step ${s}: max |row diff| ${worst} > ${spec.rows_atol}`);
        }
        const masked = await model.generate(golden.prompt_ids, {
          maxNewTokens: golden.max_new_tokens,
          stopTokens: [],
          mask: { heads: [golden.mask_head], mode: 'uniform', scope: 'decode' },
        });
        assert.deepEqual(masked.tokenIds, g.masked_ids, 'greedy ids with the head masked');
        assert.notDeepEqual(g.masked_ids, g.ids, 'the golden mask changes the output (so this check can fail)');
      } finally {
        await model.dispose();
      }
    });
  }
}

// Zero mode has no transformers golden (the paper masks uniformly), so it is checked across forms:
// every fp32 form of a family must give the plain export's greedy ids with the head's output zeroed.
for (const family of families) {
  const golden = JSON.parse(readFileSync(join(fixtures, family, 'golden.json'), 'utf8')) as GoldenFile;
  const fp32 = Object.entries(golden.forms)
    .filter(([, s]) => s.golden === 'fp32')
    .map(([f]) => f);
  test(`${family}: zero-mode masking and batched decoding agree across ${fp32.join(', ')}`, async () => {
    const prompts = [golden.prompt_ids, golden.prompt_ids.slice(0, Math.ceil(golden.prompt_ids.length / 2))];
    let reference: number[] | null = null;
    for (const form of fp32) {
      const model = await loadModel(join(fixtures, family, form), { cacheDir });
      try {
        const zero = await model.generate(golden.prompt_ids, {
          maxNewTokens: golden.max_new_tokens,
          stopTokens: [],
          mask: { heads: [golden.mask_head], mode: 'zero', scope: 'decode' },
        });
        reference ??= zero.tokenIds;
        assert.deepEqual(zero.tokenIds, reference, `${form}: zero-mode ids`);
        // Two prompts of different lengths decoded together give what each gives alone.
        const alone = [];
        for (const p of prompts) alone.push((await model.generate(p, { maxNewTokens: 6, stopTokens: [] })).tokenIds);
        const together = (await model.generateBatch(prompts, { maxNewTokens: 6, stopTokens: [] })).map((r) => r.tokenIds);
        assert.deepEqual(
          together,
          alone,
          `${form}: batch (${model.info.batchDecoding ? 'batched' : 'row by row'}, ${model.info.kvCache} KV)`,
        );
      } finally {
        await model.dispose();
      }
    }
    assert.notDeepEqual(reference, golden.goldens.fp32.ids, 'zeroing the head changes the output');
  });
}
