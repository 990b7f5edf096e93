// The paper's own head_score files load through our reader and give the facts PROVENANCE.md lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScoresJson } from '../../src/method/formats.js';
import { analyzeScores, compareScores } from '../../src/method/analyze.js';
import { sharedDir } from '../support/paths.js';

const load = (name: string) => parseScoresJson(readFileSync(join(sharedDir, 'published-scores', name), 'utf8'), name);

test('llama-2-7b-80k: 586 cases, 12 always-active heads, 70.2% zero, the top three heads', () => {
  const s = load('llama-2-7b-80k.json');
  assert.deepEqual([s.model.layers, s.model.heads], [32, 32]);
  const a = analyzeScores(s);
  assert.equal(a.cases, 586);
  assert.equal(a.alwaysActive.length, 12);
  assert.equal(Math.round(a.fractionZero * 1000) / 10, 70.2);
  assert.equal(s.retrievalHeads.length, 33);
  const top = a.top.slice(0, 3).map(([l, h, v]) => `${l}-${h} ${v.toFixed(3)}`);
  assert.deepEqual(top, ['16-19 0.943', '11-15 0.920', '8-26 0.800']);
});

test('Mistral-7B-v0.2 and Qwen1.5-14B-Chat: heads >= 0.1 and case counts', () => {
  const m = load('Mistral-7B-v0.2-hf.json');
  assert.deepEqual([m.model.layers, m.model.heads, m.summary.countedCases, m.retrievalHeads.length], [32, 32, 362, 43]);
  const q = load('Qwen1.5-14B-Chat.json');
  assert.deepEqual([q.model.layers, q.model.heads, q.summary.countedCases, q.retrievalHeads.length], [40, 40, 221, 68]);
});

test('llama-2-7b-80k vs Mistral: a comparison runs on same-shape files', () => {
  const c = compareScores(load('llama-2-7b-80k.json'), load('Mistral-7B-v0.2-hf.json'));
  assert.ok(c.pearson !== null && c.pearson > -1 && c.pearson < 1);
  assert.equal(c.topK.length, 3);
});

test('retrieval-lens analyze reads a published file: --json and --compare', async () => {
  const { main } = await import('../../src/cli/main.js');
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), signal: new AbortController().signal };
  const file = join(sharedDir, 'published-scores', 'llama-2-7b-80k.json');
  assert.equal(
    await main(['analyze', file, '--json', '--compare', join(sharedDir, 'published-scores', 'Mistral-7B-v0.2-hf.json')], io),
    0,
    err,
  );
  const j = JSON.parse(out);
  assert.equal(j.heads, 1024);
  assert.equal(j.cases, 586);
  assert.equal(Math.round(j.fractionAtLeast01 * 1024), 33);
  assert.equal(j.alwaysActive.length, 12);
  assert.equal(j.top.length, 10);
  assert.deepEqual(j.top[0].slice(0, 2), [16, 19]);
  assert.ok(j.compare.spearman > -1 && j.compare.spearman < 1 && j.compare.topKOverlap >= 0 && j.compare.topKOverlap <= 1);
  out = '';
  assert.equal(await main(['analyze', file], io), 0);
  assert.match(out, /counted cases\s+586/);
  assert.match(out, /always active\s+12:/);
  assert.match(out, /16-19\s+0\.943/);
  err = '';
  assert.equal(await main(['analyze', file, '--compare', join(sharedDir, 'published-scores', 'Qwen1.5-14B-Chat.json')], io), 1);
  assert.match(err, /error: cannot compare 32x32 heads with 40x40/);
});
