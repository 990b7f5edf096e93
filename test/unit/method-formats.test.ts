// Score files: ours and the reference's {"layer-head": [...]} JSON, CSV, atomic writes, analysis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize } from '../../src/method/aggregate.js';
import { checkOutputPath, parseScoresJson, toReferenceFormat, toCsv, writeFileAtomic } from '../../src/method/formats.js';
import { analyzeScores, compareScores, pearson, spearman, ranks } from '../../src/method/analyze.js';
import type { CaseResult } from '../../src/method/types.js';
import { tempDir } from '../support/paths.js';

function fakeCase(scores: number[][], success: boolean, length = 256, depth = 0): CaseResult {
  return {
    length,
    depth,
    needleId: 'n',
    promptTokens: 10,
    span: [1, 2],
    success,
    rougeRecall: success ? 1 : 0,
    response: '',
    question: '',
    scores,
  };
}

const sample = () =>
  summarize(
    { id: 'm', layers: 2, heads: 2 },
    { threshold: 0.1 },
    [
      fakeCase(
        [
          [0.5, 0],
          [0, 0.25],
        ],
        true,
      ),
      fakeCase(
        [
          [0.3, 0],
          [0, 0],
        ],
        true,
      ),
      fakeCase(
        [
          [1, 1],
          [1, 1],
        ],
        false,
      ),
    ],
    0.1,
  );

test('formats: ours round-trips, the reference format converts both ways, CSV', () => {
  const f = sample();
  assert.deepEqual(parseScoresJson(JSON.stringify(f)), f);
  const ref = toReferenceFormat(f);
  assert.deepEqual(ref, { '0-0': [0.5, 0.3], '0-1': [0, 0], '1-0': [0, 0], '1-1': [0.25, 0] }, 'counted cases only');
  const back = parseScoresJson(JSON.stringify(ref), 'ref.json');
  assert.deepEqual([back.model.layers, back.model.heads, back.cases.length], [2, 2, 2]);
  assert.deepEqual(back.scores, f.scores);
  assert.deepEqual(back.retrievalHeads, f.retrievalHeads);
  assert.deepEqual(back.summary.alwaysActive, [[0, 0]]);
  assert.deepEqual(toReferenceFormat(back), ref);
  // Layers and heads come from the largest indices, whatever the key order.
  const sparse = parseScoresJson('{"2-0": [0.5], "0-3": [0], "1-1": [0.2]}', 's.json');
  assert.deepEqual([sparse.model.layers, sparse.model.heads], [3, 4]);
  assert.equal(sparse.scores[2][0], 0.5);
  const csv = toCsv(f).trim().split('\n');
  assert.equal(csv.length, 5);
  assert.equal(csv[1], '0,0,0.4,1');
  assert.equal(csv[4], '1,1,0.125,1');
});

test('formats: bad files get specific BAD_SCORES_FILE errors', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseScoresJson(text, 'x.json'),
      (e: Error & { code?: string }) => e.code === 'BAD_SCORES_FILE' && re.test(e.message),
    );
  bad('{not json', /x\.json is not a scores file: invalid JSON/);
  bad('[1,2]', /expected a JSON object/);
  bad('{}', /empty object/);
  bad('{"a-b": [1]}', /key "a-b" is not "layer-head"/);
  bad('{"0-0": [1, 2], "0-1": [1]}', /has 1 case scores, others have 2/);
  bad('{"0-0": ["x"]}', /not a list of numbers/);
  bad('{"format": "retrieval-lens/ablation@1", "results": []}', /format is "retrieval-lens\/ablation@1"/);
  const f = JSON.parse(JSON.stringify(sample()));
  f.scores[1].pop();
  bad(JSON.stringify(f), /scores is not a 2 x 2 matrix/);
  const g = JSON.parse(JSON.stringify(sample()));
  g.cases[1].scores = [[1]];
  bad(JSON.stringify(g), /case 2 scores are not a 2 x 2 matrix/);
  const h = JSON.parse(JSON.stringify(sample()));
  delete h.model.layers;
  bad(JSON.stringify(h), /model\.layers/);
});

test('formats: a file of ours without its summary gets it rebuilt from the cases', () => {
  const f = JSON.parse(JSON.stringify(sample()));
  delete f.summary;
  delete f.retrievalHeads;
  const back = parseScoresJson(JSON.stringify(f));
  assert.deepEqual(back.summary, sample().summary);
  assert.deepEqual(back.retrievalHeads, sample().retrievalHeads);
});

test('atomic writes leave no temporary file; a missing folder is reported before a run', () => {
  const dir = tempDir();
  const p = join(dir, 'scores.json');
  writeFileAtomic(p, '{"a": 1}');
  writeFileAtomic(p, '{"a": 2}');
  assert.equal(readFileSync(p, 'utf8'), '{"a": 2}');
  assert.deepEqual(readdirSync(dir), ['scores.json']);
  assert.throws(() => writeFileAtomic(join(dir, 'nope', 'x.json'), '{}'), /cannot write .*nope/);
  assert.equal(existsSync(join(dir, 'nope')), false);
  checkOutputPath(p);
  assert.throws(() => checkOutputPath(join(dir, 'nope', 'x.json')), /folder .*nope does not exist/);
});

test('analysis and comparison', () => {
  const a = summarize({ id: 'a', layers: 1, heads: 4 }, {}, [
    fakeCase([[0.5, 0.2, 0, 0.05]], true),
    fakeCase([[0.5, 0, 0, 0.05]], true),
    fakeCase([[0, 0, 0, 0]], false),
  ]);
  const b = summarize({ id: 'b', layers: 1, heads: 4 }, {}, [fakeCase([[0.4, 0.3, 0.01, 0]], true)]);
  const an = analyzeScores(a);
  assert.deepEqual(an, {
    heads: 4,
    cases: 2,
    fractionAtLeast01: 0.5,
    fractionZero: 0.25,
    alwaysActive: [
      [0, 0],
      [0, 3],
    ],
    top: [
      [0, 0, 0.5],
      [0, 1, 0.1],
      [0, 3, 0.05],
      [0, 2, 0],
    ],
  });
  assert.equal(analyzeScores(a, 2).top.length, 2);
  const c = compareScores(a, b, { ks: [2] });
  assert.deepEqual(c.topK, [{ k: 2, shared: 2, fraction: 1 }]);
  assert.equal(c.topKOverlap, 1, 'top-4 of 4 heads: all shared');
  assert.ok(Math.abs(c.pearson! - pearson([0.5, 0.1, 0, 0.05], [0.4, 0.3, 0.01, 0])!) < 1e-12);
  assert.ok(Math.abs(c.spearman! - spearman([0.5, 0.1, 0, 0.05], [0.4, 0.3, 0.01, 0])!) < 1e-12);
  assert.ok(Math.abs(pearson([1, 2, 3], [2, 4, 7])! - 0.9933992677987828) < 1e-12);
  assert.deepEqual(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [4, 3, 2, 1])! + 1) < 1e-12);
  // Item 18: a constant list has no correlation: undefined (null), not 0.
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), null, 'a constant list has no correlation');
  assert.equal(spearman([0, 0, 0], [1, 2, 3]), null);
  const other = summarize({ id: 'c', layers: 2, heads: 2 }, {}, []);
  assert.throws(() => compareScores(a, other), /cannot compare 1x4 heads with 2x2/);
});
