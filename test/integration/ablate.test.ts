// Ablation on the needle organism through the method API, with the paper's default masking
// (uniform attention, decoding only): fresh cases, random heads outside the retrieval heads.
// The bundled organism (needle-organism-2k) answers with the needle sentence and, with its
// retrieval heads masked, still names the question's name and attribute with a wrong value, so
// its collapse shows in exact answers; the first organism (../shared/models/needle-organism) loses
// more of the sentence, so its collapse shows in ROUGE-1 success too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import type { LoadedModel } from '../../src/engine/types.js';
import { runDetection } from '../../src/method/detect.js';
import { runAblation } from '../../src/method/ablate.js';
import { parseScoresJson, toReferenceFormat } from '../../src/method/formats.js';
import type { ScoresFile } from '../../src/method/types.js';
import { bundledModel, repoRoot, sharedDir, sharedModel, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');
const haystack = [readFileSync(join(repoRoot, 'data', 'haystack', 'shakespeare.txt'), 'utf8')];
let model: LoadedModel;
let scores: ScoresFile;

before(async () => {
  model = await loadModel(bundledModel, { cacheDir: process.env.RETRIEVAL_LENS_CACHE });
  scores = await runDetection(model, { haystack, lengths: [256], depths: [0, 50, 100] });
});
after(() => model?.dispose());

test('ablation: top-k vs k random non-retrieval heads on fresh cases (uniform, decode)', async () => {
  const ticks: number[] = [];
  const a = await runAblation(model, scores, { haystack, ks: [3], randomTrials: 2, seed: 7 }, { onProgress: (p) => ticks.push(p.done) });
  assert.equal(a.format, 'retrieval-lens/ablation@1');
  assert.deepEqual(a.model, { id: model.info.id, layers: 6, heads: 8 });
  const s = a.settings as Record<string, unknown>;
  assert.equal(s.maskMode, 'uniform');
  assert.equal(s.maskScope, 'decode');
  // Fresh cases: other needles, depths between the detection's.
  assert.deepEqual(s.depths, [25, 75]);
  assert.ok((s.needles as string[]).every((id) => !(scores.settings as { needles: string[] }).needles.includes(id)));
  assert.equal(s.cases, 6);
  assert.equal(ticks.length, 6 * (1 + 1 + 2), 'one tick per generation: baseline, top-3, two random trials');
  const [row] = a.results;
  assert.equal(row.k, 3);
  assert.deepEqual(
    row.topHeads,
    scores.retrievalHeads.slice(0, 3).map(([layer, head]) => ({ layer, head })),
  );
  const retrieval = new Set(scores.retrievalHeads.map(([l, h]) => `${l}:${h}`));
  assert.equal(row.randomHeads!.length, 2);
  for (const trial of row.randomHeads!) {
    assert.equal(trial.length, 3);
    assert.ok(
      trial.every((h) => !retrieval.has(`${h.layer}:${h.head}`)),
      'random heads exclude retrieval heads',
    );
  }
  for (const v of [a.baseline, row.top, ...row.random, row.topExact!, ...row.randomExact!]) assert.ok(v >= 0 && v <= 1);
  assert.ok(a.baseline >= 0.75, `baseline ${a.baseline}`);
  assert.ok(a.baselineExact! >= 0.75, `exact baseline ${a.baselineExact}`);
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  assert.ok(row.topExact! < a.baselineExact!, `exact: top-3 ${row.topExact} vs no mask ${a.baselineExact}`);
  assert.ok(row.topExact! < mean(row.randomExact!), `exact: top-3 ${row.topExact} vs random ${row.randomExact}`);
  // Same seed, same draws.
  const again = await runAblation(model, scores, { haystack, ks: [1], randomTrials: 2, seed: 7, lengths: [256], depths: [60] });
  const other = await runAblation(model, scores, { haystack, ks: [1], randomTrials: 2, seed: 7, lengths: [256], depths: [60] });
  assert.deepEqual(again.results[0].randomHeads, other.results[0].randomHeads);
  assert.deepEqual(again.results, other.results);
});

test('ablation on the first organism: masking its top-3 heads lowers ROUGE-1 success below random heads too', async () => {
  const first = await loadModel(sharedModel('needle-organism'), { cacheDir: process.env.RETRIEVAL_LENS_CACHE });
  try {
    const s = await runDetection(first, { haystack, lengths: [256], depths: [0, 50, 100] });
    const a = await runAblation(first, s, { haystack, ks: [3], randomTrials: 2, seed: 7 });
    const [row] = a.results;
    assert.ok(a.baseline >= 0.75, `baseline ${a.baseline}`);
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    assert.ok(row.top < mean(row.random), `top-3 ${row.top} vs random ${row.random}`);
    assert.ok(row.topExact! < mean(row.randomExact!), `exact: top-3 ${row.topExact} vs random ${row.randomExact}`);
  } finally {
    await first.dispose();
  }
});

test('ablation input errors: reference files without lengths, other models, bad k, cancel', async () => {
  const ref = parseScoresJson(JSON.stringify(toReferenceFormat(scores)), 'ref.json');
  await assert.rejects(runAblation(model, ref, { haystack }), /does not say which context lengths/);
  const llama = parseScoresJson(readFileSync(join(sharedDir, 'published-scores', 'llama-2-7b-80k.json'), 'utf8'), 'llama.json');
  await assert.rejects(
    runAblation(model, llama, { haystack, lengths: [256] }),
    (e: Error & { code?: string }) => e.code === 'BAD_SCORES_FILE' && /32 x 32 heads but the model has 6 x 8/.test(e.message),
  );
  await assert.rejects(runAblation(model, scores, { haystack, ks: [0] }), /k must be positive integers/);
  await assert.rejects(runAblation(model, scores, { haystack, ks: [46] }), /cannot draw 46 random heads: only 45/);
  await assert.rejects(runAblation(model, scores, { haystack: [''] }), /the haystack is empty/);
  const ctrl = new AbortController();
  ctrl.abort();
  await assert.rejects(
    runAblation(model, scores, { haystack }, { signal: ctrl.signal }),
    (e: Error & { code?: string }) => e.code === 'CANCELLED',
  );
});
