// The method's pure parts: span location, needle insertion, the per-step score rule, ROUGE-1,
// aggregation and both score-file formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findSpan } from '../../src/method/span.js';
import { insertionPoint, contextBudget, CaseBuilder, choosePromptFormat } from '../../src/method/cases.js';
import { CaseScorer } from '../../src/method/score.js';
import { rouge1Recall, rougeTokens } from '../../src/method/rouge.js';
import { summarize, meanScores, alwaysActive, retrievalHeads } from '../../src/method/aggregate.js';
import { parseScoresJson, toReferenceFormat, toCsv } from '../../src/method/formats.js';
import { analyzeScores, compareScores, spearman, ranks } from '../../src/method/analyze.js';
import { randomHeads, rankHeads, freshDepths } from '../../src/method/ablate.js';
import { rng } from '../../src/engine/sampling.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { DEFAULT_NEEDLES, parseNeedles } from '../../src/method/needles.js';
import { bundledModel } from '../support/paths.js';
import type { CaseResult } from '../../src/method/types.js';

test('span: first window whose distinct ids overlap the answer by more than 90%', () => {
  assert.deepEqual(findSpan([9, 9, 1, 2, 3, 4, 9], [1, 2, 3, 4]), [2, 6]);
  // First-match on distinct ids: the window starting one token early already holds both of {1, 2}.
  assert.deepEqual(findSpan([7, 1, 2, 1, 2, 8], [1, 2, 1, 2]), [0, 4]);
  assert.equal(findSpan([1, 2, 3, 5, 6, 7], [1, 2, 3, 4]), null, '3 of 4 ids is 75%, not enough');
  // 10 of 11 distinct ids (90.9%) is enough, so the window starting one early matches first.
  const ans = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  assert.deepEqual(findSpan([5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], ans), [0, 11]);
  // 9 of 10 distinct ids is exactly 90%: not more than 90%, so the full window is the match.
  assert.deepEqual(findSpan([5, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11], [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]), [1, 11]);
});

test('insertion walks back to just after a sentence-ending token; depth 100 appends', () => {
  const dot = 0;
  const toks = [5, 5, dot, 5, 5, 5, dot, 5, 5, 5];
  const ends = (t: number) => t === dot;
  assert.equal(insertionPoint(toks, 50, ends), 3);
  assert.equal(insertionPoint(toks, 80, ends), 7);
  assert.equal(insertionPoint(toks, 0, ends), 0);
  assert.equal(insertionPoint(toks, 100, ends), 10);
  assert.equal(insertionPoint([5, 5, 5], 60, ends), 0, 'no sentence end before: the start');
  assert.equal(contextBudget(256, 20, 12, 12), 256 - 33 - 12);
  assert.equal(contextBudget(4000, 20, 12, 12), 4000 - 200 - 12, "the reference's 200-token buffer at paper scale");
});

test('cases on the real tokenizer: needle after a sentence end, answer span located', async () => {
  const tok = await loadTokenizer(bundledModel);
  const hay = 'The sun rose over the hill. Birds sang in the tall trees. A farmer walked to his field. '.repeat(20);
  const b = new CaseBuilder(tok, [hay], choosePromptFormat(undefined, '{context}\n\nQuestion: {question}\nAnswer:', false));
  const needle = DEFAULT_NEEDLES[0];
  for (const depth of [0, 25, 50, 75, 100]) {
    const c = b.build(256, depth, needle);
    assert.ok(c.promptIds.length <= 256 - 20, `prompt ${c.promptIds.length} leaves room for the answer`);
    assert.ok(c.prompt.includes(needle.needle));
    const before = c.prompt.slice(0, c.needleChars[0]).trimEnd();
    if (depth > 0 && depth < 100) assert.ok(before.endsWith('.'), `depth ${depth}: needle follows a sentence end: ...${before.slice(-20)}`);
    const spanText = tok.decode(c.promptIds.slice(...c.span));
    assert.match(spanText, /secret code is 482/);
    assert.ok(c.prompt.endsWith("Question: What is Zorvak's secret code?\nAnswer:"));
  }
});

test('score rule on a hand-made attention tensor', () => {
  // 2 layers x 2 heads, prompt of 6 tokens, answer span [2, 5) holding tokens 40 41 42.
  const prompt = [1, 7, 40, 41, 42, 9];
  const s = new CaseScorer(2, 2, prompt, [2, 5]);
  const kv = 7;
  const rows = new Float32Array(2 * 2 * kv);
  const put = (l: number, h: number, pos: number) => (rows[(l * 2 + h) * kv + pos] = 0.9);
  put(0, 0, 3); // in span, token 41 == generated 41: +1/3
  put(0, 1, 4); // in span but token 42 != 41: nothing
  put(1, 0, 5); // token 9 outside span: nothing
  put(1, 1, 3); // +1/3
  s.step(rows, kv, 41);
  s.step(rows, kv, 41); // credit is per step: a case can exceed 1/|span| per head
  const m = s.toMatrix();
  assert.ok(Math.abs(m[0][0] - 2 / 3) < 1e-12);
  assert.equal(m[0][1], 0);
  assert.equal(m[1][0], 0);
  assert.ok(Math.abs(m[1][1] - 2 / 3) < 1e-12);
});

test('ROUGE-1 recall with Porter stemming, as rouge_score', () => {
  assert.deepEqual(rougeTokens("Quisabel's favourite tool, a GREEN hammer!"), ['quisabel', 's', 'favourit', 'tool', 'a', 'green', 'hammer']);
  assert.equal(rouge1Recall('the cat sat', 'the cat sat on the mat'), 1);
  assert.equal(rouge1Recall("Zorvak's secret code is 48213.", "Zorvak's secret code is 4821."), 5 / 6);
  assert.equal(rouge1Recall('hammers are tools', 'a hammer is a tool'), 2 / 3, 'stemmed plural forms match');
  assert.equal(rouge1Recall('a a b', 'a b'), 2 / 3, 'counts are clipped');
  assert.equal(rouge1Recall('', 'anything'), 0);
});

function fakeCase(scores: number[][], success: boolean, length = 256, depth = 0): CaseResult {
  return { length, depth, needleId: 'n', promptTokens: 10, span: [1, 2], success, rougeRecall: success ? 1 : 0, response: '', question: '', scores };
}

test('aggregation: mean over counted cases, threshold, always-active heads, accuracy grid', () => {
  const cases = [fakeCase([[0.3, 0], [0.1, 0.05]], true, 256, 0), fakeCase([[0.1, 0], [0, 0.05]], true, 256, 50), fakeCase([[9, 9], [9, 9]], false, 512, 0)];
  const f = summarize({ id: 'm', layers: 2, heads: 2 }, {}, cases, 0.1);
  assert.deepEqual(meanScores(cases.filter((c) => c.success), 2, 2), [[0.2, 0], [0.05, 0.05]]);
  assert.deepEqual(f.retrievalHeads, [[0, 0, 0.2]]);
  assert.equal(f.summary.countedCases, 2);
  assert.equal(f.summary.failedCases, 1);
  assert.equal(f.summary.fractionRetrieval, 0.25);
  assert.deepEqual(alwaysActive(cases.filter((c) => c.success), 2, 2), [[0, 0], [1, 1]]);
  assert.deepEqual(f.summary.accuracy, { lengths: [256, 512], depths: [0, 50], values: [[1, 1], [0, 0]] });
  assert.deepEqual(retrievalHeads([[0.1, 0.09]], 0.1), [[0, 0, 0.1]], 'at the threshold counts');
});

test('formats: ours round-trips, the reference format converts both ways, CSV, bad files', () => {
  const cases = [fakeCase([[0.5, 0], [0, 0.25]], true), fakeCase([[0.3, 0], [0, 0]], true), fakeCase([[1, 1], [1, 1]], false)];
  const f = summarize({ id: 'm', layers: 2, heads: 2 }, { threshold: 0.1 }, cases, 0.1);
  assert.deepEqual(parseScoresJson(JSON.stringify(f)), f);
  const ref = toReferenceFormat(f);
  assert.deepEqual(ref, { '0-0': [0.5, 0.3], '0-1': [0, 0], '1-0': [0, 0], '1-1': [0.25, 0] });
  const back = parseScoresJson(JSON.stringify(ref), 'ref.json');
  assert.equal(back.cases.length, 2);
  assert.deepEqual(back.scores, f.scores);
  assert.deepEqual(back.retrievalHeads, f.retrievalHeads);
  assert.equal(toCsv(f).split('\n')[1], '0,0,0.4,1');
  assert.throws(() => parseScoresJson('{not json', 'x.json'), /x\.json is not a scores file: invalid JSON/);
  assert.throws(() => parseScoresJson('[1,2]', 'x.json'), /expected a JSON object/);
  assert.throws(() => parseScoresJson('{"a-b": [1]}', 'x.json'), /key "a-b" is not "layer-head"/);
  assert.throws(() => parseScoresJson('{"0-0": [1, 2], "0-1": [1]}', 'x.json'), /has 1 case scores, others have 2/);
  assert.throws(() => parseScoresJson('{"0-0": ["x"]}', 'x.json'), /not a list of numbers/);
});

test('analysis and comparison', () => {
  const a = summarize({ id: 'a', layers: 1, heads: 4 }, {}, [fakeCase([[0.5, 0.2, 0, 0.05]], true)]);
  const b = summarize({ id: 'b', layers: 1, heads: 4 }, {}, [fakeCase([[0.4, 0.3, 0.01, 0]], true)]);
  const an = analyzeScores(a);
  assert.equal(an.fractionAtLeast01, 0.5);
  assert.equal(an.fractionZero, 0.25);
  assert.deepEqual(an.top[0], [0, 0, 0.5]);
  const c = compareScores(a, b, { ks: [2] });
  assert.deepEqual(c.topK, [{ k: 2, shared: 2, fraction: 1 }]);
  assert.ok(c.pearson > 0.9);
  assert.deepEqual(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12);
});

test('ablation helpers: random heads exclude retrieval heads, deterministic per seed', () => {
  const exclude = [{ layer: 0, head: 0 }, { layer: 1, head: 1 }];
  const a = randomHeads(2, 4, 6, exclude, rng(3));
  assert.equal(a.length, 6);
  assert.ok(a.every((h) => !exclude.some((e) => e.layer === h.layer && e.head === h.head)));
  assert.equal(new Set(a.map((h) => `${h.layer}:${h.head}`)).size, 6);
  assert.deepEqual(randomHeads(2, 4, 6, exclude, rng(3)), a);
  assert.throws(() => randomHeads(2, 4, 7, exclude, rng(3)), /cannot draw 7 random heads: only 6/);
  assert.deepEqual(rankHeads([[0.1, 0.3], [0.3, 0]]).slice(0, 2), [{ layer: 0, head: 1 }, { layer: 1, head: 0 }]);
  assert.deepEqual(freshDepths([0, 25, 50, 75, 100]), [12.5, 37.5, 62.5, 87.5]);
});

test('needles file parsing', () => {
  const n = parseNeedles('{"needle": "A is 1.", "question": "What is A?", "real_needle": "A is 1."}\n\n');
  assert.equal(n.length, 1);
  assert.throws(() => parseNeedles('{"needle": "x"}', 'n.jsonl'), /n\.jsonl line 1 has no "question" string/);
  assert.throws(() => parseNeedles('nope', 'n.jsonl'), /line 1 is not JSON/);
  assert.ok(DEFAULT_NEEDLES.length >= 6 && DEFAULT_NEEDLES.every((x) => x.needle === x.real_needle));
});
