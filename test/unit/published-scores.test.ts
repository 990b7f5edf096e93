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
  assert.ok(c.pearson > -1 && c.pearson < 1);
  assert.equal(c.topK.length, 3);
});
