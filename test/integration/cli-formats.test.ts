// The CLI on the model formats users have: an ONNX Runtime GenAI folder (GroupQueryAttention,
// genai_config.json, no config.json), a torch dynamo opset-23 export (ONNX Attention), an "(MHA)"
// export and an external-data export inspect, generate and detect like the plain export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { repoRoot, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');
const fixture = (form: string) => join(repoRoot, 'test', 'fixtures', 'models', 'llama', form);

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), signal: new AbortController().signal });
  return { code, out, err };
}

const forms: [string, string, RegExp][] = [
  ['genai', 'genai', /GroupQueryAttention/],
  ['opset23', 'optimum', /^Attention$/],
  ['mha', 'optimum', /MultiHeadAttention/],
  ['external', 'optimum', /plain/],
];

const prompt = 'The ship sailed along the coast. The sailors sang at night.';

async function generated(dir: string): Promise<{ text: string; tokenIds: number[] }> {
  const r = await cli(['generate', '--model', dir, '--prompt', prompt, '--max-new-tokens', '8', '--json']);
  assert.equal(r.code, 0, r.err);
  const { text, tokenIds } = JSON.parse(r.out);
  return { text, tokenIds };
}

for (const [form, layout, attention] of forms) {
  test(`${form}: inspect names the layout and attention form; generate gives the plain export's text; detect runs the grid`, async () => {
    const dir = fixture(form);
    const i = await cli(['inspect', '--model', dir, '--json']);
    assert.equal(i.code, 0, i.err);
    const j = JSON.parse(i.out);
    assert.equal(j.layout, layout);
    assert.deepEqual([j.layers, j.heads, j.kvHeads, j.headDim], [2, 4, 2, 16]);
    assert.ok(
      j.attentionNodes.every((a: { form: string }) => attention.test(a.form)),
      JSON.stringify(j.attentionNodes.map((a: { form: string }) => a.form)),
    );
    const text = await cli(['inspect', '--model', dir]);
    assert.match(
      text.out,
      layout === 'genai' ? /layout\s+ONNX Runtime GenAI \(genai_config\.json\)/ : /layout\s+transformers\.js\/Optimum/,
    );
    assert.deepEqual(await generated(dir), await generated(fixture('plain')));
    const out = join(tempDir('rl-formats-'), 'scores.json');
    const d = await cli(['detect', '--model', dir, '--lengths', '160', '--depths', '0,100', '--out', out]);
    assert.equal(d.code, 0, d.err);
    const scores = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(scores.cases.length, 6);
    assert.deepEqual([scores.scores.length, scores.scores[0].length], [2, 4]);
  });
}
