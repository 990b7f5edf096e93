// ROUGE-1 recall as rouge_score (use_stemmer=True), and its Porter stemmer against NLTK's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rouge1Recall, rougeTokens } from '../../src/method/rouge.js';
import { porterStem } from '../../src/method/porter.js';
import { repoRoot } from '../support/paths.js';

test('ROUGE-1 recall: rouge_score tokenization, stemming, clipped counts', () => {
  assert.deepEqual(rougeTokens("Quisabel's favourite tool, a GREEN hammer!"), [
    'quisabel',
    's',
    'favourit',
    'tool',
    'a',
    'green',
    'hammer',
  ]);
  assert.deepEqual(rougeTokens('Café 48213-x'), ['caf', '48213', 'x'], 'non-ASCII letters split words as in rouge_score');
  assert.equal(rouge1Recall('the cat sat', 'the cat sat on the mat'), 1);
  assert.equal(rouge1Recall("Zorvak's secret code is 48213.", "Zorvak's secret code is 4821."), 5 / 6);
  assert.equal(rouge1Recall('hammers are tools', 'a hammer is a tool'), 2 / 3, 'stemmed plural forms match');
  assert.equal(rouge1Recall('the boys always played', 'boy plays alway'), 3 / 4, "NLTK's stems: boys -> boy, always -> alway");
  assert.equal(rouge1Recall('a a b', 'a b'), 2 / 3, 'counts are clipped');
  assert.equal(rouge1Recall('', 'anything'), 0);
  assert.equal(rouge1Recall('eat a sandwich', ''), 0);
});

test("Porter stemmer equals NLTK 3.8's PorterStemmer() on a thousand words", () => {
  const rows = readFileSync(join(repoRoot, 'test', 'fixtures', 'porter-nltk.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('\t'));
  assert.ok(rows.length > 1000);
  const wrong = rows.filter(([w, s]) => porterStem(w) !== s).map(([w, s]) => `${w}: ${porterStem(w)} != ${s}`);
  assert.deepEqual(wrong, []);
  // NLTK's own rules, beyond Porter's original algorithm.
  assert.deepEqual(['dying', 'skies', 'ties', 'aged', 'carefully', 'conditionally', 'analogies', 'enjoy'].map(porterStem), [
    'die',
    'sky',
    'tie',
    'age',
    'care',
    'condit',
    'analog',
    'enjoy',
  ]);
});
