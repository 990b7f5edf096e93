// detect --method qrhead|echo|induction on the needle organism through the CLI, and the qrhead and
// paper rules checked against straightforward reimplementations on real engine output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type EngineModel } from '../../src/engine/index.js';
import { CaseBuilder, choosePromptFormat } from '../../src/method/cases.js';
import { detectionNeedles, runCase } from '../../src/method/detect.js';
import { runQrheadGrid } from '../../src/method/detectors/run.js';
import { readHaystacks } from '../../src/cli/common.js';
import { cli } from '../support/cli.js';
import { bundledModel, repoRoot, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');
const dir = tempDir('rl-detectors-');
// The organism's copying heads (its model card): all in the last layer.
const ORGANISM_HEADS = ['5-0', '5-4', '5-5'];

const topHeads = (scores: number[][], k: number) =>
  scores
    .flatMap((row, l) => row.map((v, h) => [`${l}-${h}`, v] as const))
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([h]) => h);

test('detect --method qrhead writes a 6 x 8 scores file from the grid, no generation', async () => {
  const out = join(dir, 'qrhead.json');
  const r = await cli([
    'detect',
    '--method',
    'qrhead',
    '--lengths',
    '256,512',
    '--depths',
    '0,50,100',
    '--out',
    out,
    '--format',
    'retrieval-head',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /\[18\/18\] 100%/);
  assert.match(r.out, /method qrhead: mean attention of the question's tokens on the needle, over 18 cases/);
  const s = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(s.format, 'retrieval-lens/scores@1');
  assert.equal(s.settings.method, 'qrhead');
  assert.equal(s.settings.maxNewTokens, undefined);
  assert.deepEqual([s.scores.length, s.scores[0].length], [6, 8]);
  assert.equal(s.cases.length, 18);
  for (const c of s.cases) {
    assert.equal(c.success, true);
    assert.equal(c.response, '');
    assert.ok(c.questionSpan[0] >= c.span[1] && c.questionSpan[1] <= c.promptTokens, JSON.stringify(c.questionSpan));
  }
  assert.deepEqual(s.summary.accuracy.values, []);
  assert.deepEqual(topHeads(s.scores, 3).sort(), ORGANISM_HEADS);
  assert.ok(s.scores.flat().every((v: number) => v >= 0 && v <= 1));
  const ref = JSON.parse(readFileSync(join(dir, 'qrhead.retrieval-head.json'), 'utf8'));
  assert.equal(ref['5-4'].length, 18);
  const an = await cli(['analyze', out]);
  assert.equal(an.code, 0, an.err);
  assert.match(an.out, /origin\s+method qrhead/);
});

test('detect --method echo and induction: repeated random tokens; the organism copies with induction heads', async () => {
  const files: Record<string, { scores: number[][]; settings: Record<string, unknown>; cases: unknown[] }> = {};
  for (const method of ['echo', 'induction']) {
    const out = join(dir, `${method}.json`);
    const r = await cli(['detect', '--method', method, '--block-length', '64', '--trials', '2', '--seed', '7', '--out', out]);
    assert.equal(r.code, 0, r.err);
    files[method] = JSON.parse(readFileSync(out, 'utf8'));
    const s = files[method];
    assert.equal(s.settings.method, method);
    assert.deepEqual(s.settings.randomSequence, { blockLength: 64, repeats: 2, trials: 2, seed: 7, prefix: [1] });
    assert.deepEqual([s.scores.length, s.scores[0].length], [6, 8]);
    assert.equal(s.cases.length, 2);
    assert.ok(s.scores.flat().every((v) => v >= 0 && v <= 1));
  }
  // Trained on long-range copies, its copying heads attend to what followed the earlier occurrence.
  assert.deepEqual(topHeads(files.induction.scores, 3).sort(), ORGANISM_HEADS);
  const inductionTop = files.induction.scores[5][4];
  assert.ok(
    inductionTop > 0.1 && files.echo.scores[5][4] < inductionTop / 5,
    `5-4: induction ${inductionTop}, echo ${files.echo.scores[5][4]}`,
  );
  const cmp = await cli(['analyze', join(dir, 'induction.json'), '--compare', join(dir, 'qrhead.json'), '--level', 'kv', '--json']);
  assert.equal(cmp.code, 0, cmp.err);
  const j = JSON.parse(cmp.out);
  assert.equal(j.compare.level, 'kv');
  assert.equal(j.compare.aggregation, 'max');
  assert.equal(j.compare.heads, 24, '6 layers x 4 KV heads');
  assert.ok(typeof j.compare.kendall === 'number');
});

test('echo and induction run on every attention form (fixture models: GroupQueryAttention, MultiHeadAttention, ONNX Attention, q4)', async () => {
  for (const m of ['qwen2/genai', 'phi3/mha', 'gemma3_text/opset23', 'llama/q4']) {
    const model = join(repoRoot, 'test', 'fixtures', 'models', m);
    for (const method of ['echo', 'induction']) {
      const r = await cli(['detect', '--model', model, '--method', method, '--trials', '1', '--json']);
      assert.equal(r.code, 0, `${m} ${method}: ${r.err}`);
      const s = JSON.parse(r.out);
      // The default block shrinks to these models' 256-token context.
      assert.ok(s.settings.randomSequence.blockLength * 2 + 1 <= 256, `${m}: ${s.settings.randomSequence.blockLength}`);
      assert.equal(s.scores.flat().length, s.model.layers * s.model.heads);
      assert.ok(
        s.scores.flat().every((v: number) => v >= 0 && v <= 1 + 1e-6),
        `${m} ${method}`,
      );
    }
  }
});

test('method flags: those another method reads are usage errors; a sequence beyond the context is refused', async () => {
  for (const args of [
    ['--method', 'qrhead', '--max-new-tokens', '5'],
    ['--method', 'echo', '--lengths', '256'],
    ['--method', 'induction', '--needles-file', 'x.jsonl'],
    ['--block-length', '16'],
    ['--method', 'qrhead', '--shard', '1/2', '--out', join(dir, 'x.json')],
  ]) {
    const r = await cli(['detect', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /does not apply to --method|do not apply to --method/);
  }
  const r = await cli(['detect', '--method', 'echo', '--block-length', '1500', '--repeats', '2']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: 2 copies of a 1500-token block \(3001 tokens\) exceed the model's context of 2048\n$/);
});

let model: EngineModel;
test('load the organism for the reimplementations', async () => {
  model = await loadModel(bundledModel);
});

function buildCase(length: number, depth: number, needle = detectionNeedles({})[0]) {
  const fmt = choosePromptFormat(undefined, model.info.template, model.info.hasChatTemplate);
  return new CaseBuilder(model.tokenizer, readHaystacks(undefined), fmt, { questionSpan: true }).build(length, depth, needle);
}

test("Decoder.prefillRows gives each token's row as stepping one token at a time does", async () => {
  const c = buildCase(512, 50);
  const d = model.decoder();
  await d.prefill(c.promptIds.slice(0, 400));
  const stepper = d.fork();
  const rows = await d.prefillRows(c.promptIds.slice(400, 430), { rows: 12 });
  assert.equal(rows.length, 12);
  assert.equal(d.length, 430);
  for (let p = 400; p < 430; p++) {
    const s = await stepper.step(c.promptIds[p], { attention: true });
    if (p < 418) continue;
    const r = rows[p - 418];
    assert.equal(r.kvLen, p + 1);
    let worst = 0;
    for (let i = 0; i < r.rows.length; i++) worst = Math.max(worst, Math.abs(r.rows[i] - s.attention!.rows[i]));
    assert.ok(worst < 1e-5, `position ${p}: ${worst}`);
  }
});

test('qrhead against a naive reimplementation: step through the question, sum each row over the needle', async () => {
  const needle = detectionNeedles({})[1];
  for (const [length, depth] of [
    [384, 25],
    [1024, 100],
  ]) {
    const c = buildCase(length, depth, needle);
    // The question's tokens, found independently: the shortest token range whose text holds the question.
    const [q0, q1] = c.questionSpan!;
    const text = (a: number, b: number) => model.tokenizer.decode(c.promptIds.slice(a, b));
    assert.ok(text(q0, q1).includes(needle.question.slice(1, -1)), text(q0, q1));
    assert.ok(!text(q0 + 2, q1).includes(needle.question.slice(1, -1)) && !text(q0, q1 - 2).includes(needle.question.slice(1, -1)));
    const d = model.decoder();
    await d.prefill(c.promptIds.slice(0, q0));
    const { layers, heads } = model.info;
    const naive = Array.from({ length: layers }, () => new Array<number>(heads).fill(0));
    for (let p = q0; p < q1; p++) {
      const { attention } = await d.step(c.promptIds[p], { attention: true });
      for (let l = 0; l < layers; l++)
        for (let h = 0; h < heads; h++) {
          let mass = 0;
          for (let j = c.span[0]; j < c.span[1]; j++) mass += attention!.rows[(l * heads + h) * attention!.kvLen + j];
          naive[l][h] += mass / (q1 - q0);
        }
    }
    const [got] = await runQrheadGrid(model, { haystack: readHaystacks(undefined), lengths: [length], depths: [depth] }, {}, [needle]);
    assert.deepEqual(got.span, c.span);
    let worst = 0;
    for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) worst = Math.max(worst, Math.abs(got.scores[l][h] - naive[l][h]));
    assert.ok(worst < 1e-5, `${length}/${depth}: ${worst}`);
    assert.deepEqual(topHeads(got.scores, 3).sort(), ORGANISM_HEADS);
  }
});

test("the paper's rule against a naive reimplementation: greedy steps, top-1 in the span and the same token", async () => {
  const c = buildCase(512, 50);
  const result = await runCase(model, c, 50);
  const stops = [...model.info.eosTokenIds, model.tokenizer.newlineTokenId!];
  const gen = await model.generate(c.promptIds, { maxNewTokens: 50, stopTokens: stops, attention: true, keepAttention: true });
  const { layers, heads } = model.info;
  const naive = Array.from({ length: layers }, () => new Array<number>(heads).fill(0));
  for (const step of gen.steps) {
    const { rows, kvLen } = step.attention!;
    for (let l = 0; l < layers; l++)
      for (let h = 0; h < heads; h++) {
        const row = Array.from(rows.subarray((l * heads + h) * kvLen, (l * heads + h + 1) * kvLen));
        const top = row.indexOf(Math.max(...row));
        if (top >= c.span[0] && top < c.span[1] && c.promptIds[top] === step.token) naive[l][h] += 1 / (c.span[1] - c.span[0]);
      }
  }
  assert.equal(result.response, gen.text.trim());
  assert.ok(result.success, 'the organism retrieves this needle');
  for (let l = 0; l < layers; l++)
    for (let h = 0; h < heads; h++) assert.ok(Math.abs(result.scores[l][h] - naive[l][h]) < 1e-9, `${l}-${h}`);
  assert.ok(
    ORGANISM_HEADS.some((k) => naive[5][Number(k[2])] > 0.1),
    `the copying heads score: ${naive[5]}`,
  );
  await model.dispose();
});
