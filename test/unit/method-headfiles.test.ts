// Published head files (test/fixtures/head-files, hand-written in each project's format): read,
// written back where we export the format, read again: the same heads. And the agreement measures
// (Spearman, Kendall, top-k, disagreements) at query-head and KV-head level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScoresJson, readScoresFile, toReferenceFormat } from '../../src/method/formats.js';
import { numpyExp, rankedHeads, toDuoTsv, toQrheadConfig, toQrheadList } from '../../src/method/formats/export.js';
import { matrixScores } from '../../src/method/formats/external.js';
import { compareScores } from '../../src/method/analyze.js';
import { disagreements, kendall } from '../../src/method/agreement.js';
import type { ScoresFile } from '../../src/method/types.js';
import { repoRoot } from '../support/paths.js';

const dir = join(repoRoot, 'test', 'fixtures', 'head-files');
const F = {
  paper: join(dir, 'head_score', 'toy-llama-4x4.json'),
  decore: join(dir, 'retrieval_heads', 'Toy-Llama-4x4-Instruct.json'),
  headkv: join(dir, 'Important_Head', 'head_score', 'Toy-Llama-4x4-Instruct_retrieval_heads.json'),
  headkvReason: join(dir, 'Important_Head', 'head_score', 'Toy-Llama-4x4-Instruct_retrieval_reasoning_heads.json'),
  duo: join(dir, 'attn_patterns', 'Toy-Llama-4x4-Instruct', 'lr=0.02-reg=0.05-ctx=1000_32000-multi_passkey10', 'full_attention_heads.tsv'),
  qrList: join(dir, 'qrhead', 'toy_qrhead_scores.json'),
  qrConfig: join(dir, 'qrhead', 'Toy-Llama-4x4-Instruct_qr_head.yaml'),
};
const top = (s: ScoresFile, k: number) =>
  rankedHeads(s)
    .slice(0, k)
    .map(([h]) => h);

test('the reference format and its siblings: the paper, DeCoRe, HeadKV (retrieval and retrieval-reasoning)', () => {
  const want: Record<string, [string, string[]]> = {
    paper: ['reference head_score format', ['3-1', '2-0', '3-2']],
    decore: ['DeCoRe retrieval heads', ['3-1', '3-2', '2-0']],
    headkv: ['HeadKV retrieval head scores', ['3-1', '2-0', '3-2']],
    headkvReason: ['HeadKV retrieval-reasoning head scores', ['3-1', '2-0', '1-3']],
  };
  for (const [name, [label, heads]] of Object.entries(want)) {
    const path = F[name as keyof typeof F];
    const s = readScoresFile(path);
    assert.equal(s.settings.source, label, name);
    assert.deepEqual([s.model.layers, s.model.heads], [4, 4], name);
    assert.deepEqual(top(s, 3), heads, name);
    // Written back (--format retrieval-head writes this) and read again: the same per-case lists.
    const text = JSON.stringify(toReferenceFormat(s));
    assert.deepEqual(JSON.parse(text), JSON.parse(readFileSync(path, 'utf8')), `${name}: same lists`);
    const again = parseScoresJson(text, path);
    assert.deepEqual(again.scores, s.scores, name);
    assert.deepEqual(again.retrievalHeads, s.retrievalHeads, name);
  }
  // DeCoRe and HeadKV read the first line only: later lines do not matter.
  const s = parseScoresJson(readFileSync(F.decore, 'utf8') + '\n{"written": "later"}\n', 'retrieval_heads/x.json');
  assert.deepEqual(top(s, 2), ['3-1', '3-2']);
});

test("DuoAttention's gates: layers x KV heads, written back byte for byte", () => {
  const text = readFileSync(F.duo, 'utf8');
  const s = readScoresFile(F.duo);
  assert.equal(s.settings.level, 'kv');
  assert.deepEqual([s.model.layers, s.model.heads, s.model.kvHeads], [4, 2, 2]);
  assert.equal(s.scores[0][0], -9.584426879882812e-5);
  assert.deepEqual(top(s, 3), ['1-0', '3-1', '2-0']);
  const back = toDuoTsv(s, 'max');
  assert.equal(back, text, 'numpy.savetxt layout');
  assert.deepEqual(parseScoresJson(back, 'x.tsv').scores, s.scores);
  assert.equal(numpyExp(1), '1.000000000000000000e+00');
  assert.equal(numpyExp(-1.2345e-120), '-1.234500000000000060e-120', "Python's '%.18e' % -1.2345e-120");
  assert.equal(numpyExp(0.1), '1.000000000000000056e-01');
});

test("QRHead's detection output and config: read, written back, read again", () => {
  const list = readScoresFile(F.qrList);
  assert.equal(list.settings.source, 'QRHead head scores');
  assert.equal(list.settings.headList, undefined, 'every head listed: the sizes are known');
  assert.deepEqual([list.model.layers, list.model.heads], [4, 4]);
  assert.deepEqual(top(list, 4), ['2-0', '3-1', '1-3', '3-2']);
  const listBack = toQrheadList(list);
  assert.deepEqual(JSON.parse(listBack), JSON.parse(readFileSync(F.qrList, 'utf8')));
  assert.deepEqual(parseScoresJson(listBack, 'q.json').scores, list.scores);

  const cfg = readScoresFile(F.qrConfig);
  assert.equal(cfg.settings.headList, true);
  assert.deepEqual(top(cfg, 4), ['2-0', '3-1', '1-3', '3-2']);
  assert.deepEqual([cfg.scores[2][0], cfg.scores[3][2], cfg.scores[0][0]], [1, 0.25, 0], 'ranked: (n - rank) / n');
  const cfgBack = toQrheadConfig(cfg, 16);
  assert.match(cfgBack, /^attn_head_set: "2-0,3-1,1-3,3-2"$/m);
  assert.deepEqual(parseScoresJson(cfgBack, 'c.yaml').scores, cfg.scores);
  // A config from our list: the top heads, best first; JSON configs and plain lists of "l-h" too.
  assert.match(toQrheadConfig(list, 2), /attn_head_set: "2-0,3-1"/);
  assert.deepEqual(top(parseScoresJson('{"attn_head_set": "1-1,0-0,,"}', 'c.json'), 2), ['1-1', '0-0']);
  assert.deepEqual(top(parseScoresJson('["0-1", "2-3"]', 'l.json'), 2), ['0-1', '2-3']);
});

test('not any format read: one line naming the formats', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseScoresJson(text, 'x.txt'),
      (e: Error & { code?: string }) => e.code === 'BAD_SCORES_FILE' && re.test(e.message) && !e.message.includes('\n'),
    );
  bad(
    'hello world',
    /x\.txt is not a scores file: invalid JSON .* not one of the text formats read \(DuoAttention's full_attention_heads\.tsv, a QRHead YAML config/,
  );
  bad('1\t2\n3\n', /line 2 of the DuoAttention table has 1 values, line 1 has 2/);
  bad('attn_head_set: "full_heads"', /names no heads/);
  bad('attn_head_set: "1-x"', /"1-x" is not "layer-head"/);
  bad('[["0-0", 1], ["0-0", 2]]', /listed twice/);
  bad('[1, 2]', /expected a JSON object .* or a QRHead head list/);
});

test('Kendall tau-b, with and without ties', () => {
  assert.equal(kendall([1, 2, 3, 4, 5], [3, 4, 1, 2, 5]), 0.2);
  assert.ok(Math.abs(kendall([1, 1, 2], [1, 2, 3])! - 0.816496580927726) < 1e-12, 'scipy.stats.kendalltau');
  assert.equal(kendall([1, 2, 3], [3, 2, 1]), -1);
  assert.equal(kendall([1, 1, 1], [1, 2, 3]), null);
});

test('agreement at query and KV level; disagreements; a head list fits a larger file', () => {
  const m = (scores: number[][], kvHeads = 2) =>
    matrixScores(scores, { id: 'm', layers: scores.length, heads: scores[0].length, kvHeads }, {});
  const a = m([
    [0.9, 0.1, 0, 0],
    [0, 0, 0.5, 0.4],
  ]);
  const b = m([
    [0.1, 0.8, 0, 0],
    [0, 0, 0.3, 0.6],
  ]);
  const q = compareScores(a, b, { ks: [2], disagreeK: 2 });
  assert.equal(q.level, 'query');
  assert.deepEqual(q.topK, [{ k: 2, shared: 0, fraction: 0 }]);
  assert.deepEqual(
    q.disagreements.map((d) => [`${d.layer}-${d.head}`, d.topOf, d.rankA, d.rankB]),
    [
      ['0-0', 'a', 1, 4],
      ['0-1', 'b', 4, 1],
      ['1-2', 'a', 2, 3],
      ['1-3', 'b', 3, 2],
    ],
  );
  // KV level: the max of each pair is the same in both: full agreement.
  const kv = compareScores(a, b, { level: 'kv', aggregation: 'max', ks: [2] });
  assert.equal(kv.heads, 4);
  assert.equal(kv.aggregation, 'max');
  assert.deepEqual(kv.topK, [{ k: 2, shared: 2, fraction: 1 }]);
  assert.equal(kv.disagreements.length, 0);
  assert.equal(compareScores(a, b, { level: 'kv', aggregation: 'mean' }).spearman, 1);
  // The Duo fixture is per KV head: only at level kv, against the toy's query heads (4 per layer, 2 KV).
  const duo = readScoresFile(F.duo);
  const paper = readScoresFile(F.paper);
  assert.throws(() => compareScores(duo, paper), /holds KV-head scores .*--level kv/);
  const c = compareScores(paper, duo, { level: 'kv' });
  assert.equal(c.heads, 8);
  assert.throws(() => compareScores(paper, duo, { level: 'kv', kvHeads: 4 }), /holds 2 KV heads per layer, not 4/);
  // A ranked list naming heads up to 3-2 compares with a 4 x 4 file.
  const list = parseScoresJson('["3-2", "0-1"]', 'l.json');
  assert.deepEqual([list.model.layers, list.model.heads], [4, 3]);
  assert.equal(compareScores(paper, list).heads, 16);
  assert.throws(() => compareScores(m([[1, 2]]), paper), /cannot compare 1x2 heads with 4x4/);
  assert.deepEqual(disagreements([[1, 0]], [[1, 0]], 1), []);
});

test('settings.method: recorded, checked, and absent in older files (read as the paper method)', async () => {
  const { summarize } = await import('../../src/method/aggregate.js');
  const { scoresOrigin: origin } = await import('../../src/method/analyze.js');
  const c = {
    length: 256,
    depth: 0,
    needleId: 'n',
    promptTokens: 9,
    span: [1, 2] as [number, number],
    success: true,
    rougeRecall: 0,
    response: '',
    question: 'q',
    scores: [[0.2, 0]],
  };
  const qr = summarize({ id: 'm', layers: 1, heads: 2 }, { method: 'qrhead', threshold: 0.1 }, [c]);
  assert.deepEqual(qr.summary.accuracy, { lengths: [], depths: [], values: [] }, 'no generation, no accuracy table');
  const back = parseScoresJson(JSON.stringify(qr), 'qr.json');
  assert.equal(back.settings.method, 'qrhead');
  assert.equal(origin(back), 'method qrhead');
  const old = summarize({ id: 'm', layers: 1, heads: 2 }, { threshold: 0.1 }, [c]);
  assert.deepEqual(old.summary.accuracy.values, [[1]]);
  assert.equal(origin(parseScoresJson(JSON.stringify(old), 'old.json')), 'method paper');
  assert.throws(
    () => parseScoresJson(JSON.stringify({ ...qr, settings: { method: 'magic' } }), 'bad.json'),
    /settings\.method is not one of paper, qrhead, echo, induction/,
  );
});
