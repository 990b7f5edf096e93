// Needle cases as the reference builds them: span location, insertion at sentence ends, the
// context budget, templates, and the needle files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findSpan } from '../../src/method/span.js';
import {
  insertionPoint,
  contextBudget,
  CaseBuilder,
  choosePromptFormat,
  BASE_TEMPLATE,
  CHAT_USER_TEMPLATE,
} from '../../src/method/cases.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { DEFAULT_NEEDLES, formatNeedles, parseNeedles, readNeedlesFile } from '../../src/method/needles.js';
import { bundledModel, repoRoot, tempDir } from '../support/paths.js';

const indexOfSeq = (xs: number[], seq: number[]) => xs.findIndex((_, i) => seq.every((t, j) => xs[i + j] === t));

const ORGANISM_TEMPLATE = '{context}\n\nQuestion: {question}\nAnswer:';

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
  assert.equal(findSpan([1, 2, 3], []), null);
});

test('insertion walks back to just after a sentence-ending token; depth 100 appends', () => {
  const dot = 0;
  const toks = [5, 5, dot, 5, 5, 5, dot, 5, 5, 5];
  const ends = (t: number) => t === dot;
  assert.equal(insertionPoint(toks, 50, ends), 3);
  assert.equal(insertionPoint(toks, 80, ends), 7);
  assert.equal(insertionPoint(toks, 70, ends), 7, 'already just after a period: stays');
  assert.equal(insertionPoint(toks, 0, ends), 0);
  assert.equal(insertionPoint(toks, 100, ends), 10);
  // Item 4: without a sentence end before depth%, the needle must not fall back to the start (0%).
  assert.equal(insertionPoint([5, 5, 5], 60, ends), 1, 'no sentence end at all: the depth position itself');
  assert.equal(insertionPoint([5, 5, 5, 5, 5, dot, 5, 5], 25, ends), 6, 'none before: the next sentence end after');
  assert.equal(insertionPoint([5, 5, 5, 5, 5, dot, 5, 5], 0, ends), 0, 'depth 0 stays at the start');
});

test('context budget: prompt overhead + answer + newline, the reference 200 from 1000 tokens', () => {
  assert.equal(contextBudget(256, 20, 12, 12), 256 - 33 - 12);
  assert.equal(contextBudget(4000, 20, 12, 12), 4000 - 200 - 12, "the reference's 200-token buffer at paper scale");
  assert.equal(contextBudget(4000, 250, 12, 12), 4000 - 263 - 12, 'a longer prompt overhead than 200 wins');
});

test('prompt format: --template, then retrieval-lens.json, then the chat template, then the base prompt', () => {
  assert.deepEqual(choosePromptFormat('A{context}B{question}', ORGANISM_TEMPLATE, true), {
    template: 'A{context}B{question}',
    chat: false,
  });
  assert.deepEqual(choosePromptFormat(undefined, ORGANISM_TEMPLATE, true), { template: ORGANISM_TEMPLATE, chat: false });
  assert.deepEqual(choosePromptFormat(undefined, null, true), { template: CHAT_USER_TEMPLATE, chat: true });
  assert.deepEqual(choosePromptFormat(undefined, null, false), { template: BASE_TEMPLATE, chat: false });
  assert.throws(() => choosePromptFormat('{context} only', null, false), /must contain \{context\} and \{question\}/);
});

test('cases on the real tokenizer: needle after a sentence end, answer span located', async () => {
  const tok = await loadTokenizer(bundledModel);
  const hay = 'The sun rose over the hill. Birds sang in the tall trees. A farmer walked to his field. '.repeat(20);
  const b = new CaseBuilder(tok, [hay], choosePromptFormat(undefined, ORGANISM_TEMPLATE, false));
  const needle = DEFAULT_NEEDLES[0];
  const answer = tok.encode(needle.real_needle, { addSpecialTokens: false });
  for (const depth of [0, 25, 50, 75, 100]) {
    const c = b.build(256, depth, needle);
    assert.ok(c.promptIds.length + answer.length + 1 <= 256, `prompt ${c.promptIds.length} + answer ${answer.length} + newline fit in 256`);
    assert.ok(c.promptIds.length >= 256 - 40, `prompt ${c.promptIds.length} uses the budget`);
    assert.equal(c.prompt.slice(c.needleChars[0], c.needleChars[1]), needle.needle);
    const before = c.prompt.slice(0, c.needleChars[0]).trimEnd();
    if (depth === 0) assert.equal(c.needleChars[0], 0);
    else assert.ok(before.endsWith('.'), `depth ${depth}: needle follows a sentence end: ...${before.slice(-20)}`);
    if (depth === 100) assert.ok(c.prompt.slice(c.needleChars[1]).startsWith('\n\nQuestion:'), 'depth 100 appends');
    // First-match can start the window early (on the BOS, or on tokens before the needle that the
    // answer also holds), as the reference's find_needle_idx does; with this near-character-level
    // vocabulary by up to a few tokens, so the window still covers most of the answer.
    assert.equal(c.span[1] - c.span[0], answer.length);
    assert.match(tok.decode(c.promptIds.slice(...c.span)), /Zorvak's secret code is 48/);
    const exact = indexOfSeq(c.promptIds, answer);
    assert.ok(exact >= 0 && c.span[0] <= exact && c.span[0] >= exact - 4, `span ${c.span} vs answer tokens at ${exact}`);
    assert.equal(c.promptIds[0], 1, 'the base prompt is encoded with BOS');
    assert.ok(c.prompt.endsWith("Question: What is Zorvak's secret code?\nAnswer:"));
  }
  // Deeper needles sit later in the prompt.
  const at = [0, 25, 50, 75, 100].map((d) => b.build(256, d, needle).span[0]);
  assert.deepEqual(
    [...at].sort((x, y) => x - y),
    at,
  );
  assert.ok(at[4] > at[0] + 150);
});

test('cases: a short haystack is repeated; the base template; needle BOS option; bad needles', async () => {
  const tok = await loadTokenizer(bundledModel);
  const b = new CaseBuilder(tok, ['Once upon a time there was a cat.'], choosePromptFormat(undefined, null, false));
  const c = b.build(512, 50, DEFAULT_NEEDLES[1]);
  assert.ok(c.promptIds.length > 400, `${c.promptIds.length} tokens from a one-sentence haystack`);
  assert.ok(c.prompt.endsWith("Based on the content of the book, Question: What is Melidra's lucky number?\nAnswer:"));
  const withBos = new CaseBuilder(tok, ['Once upon a time there was a cat.'], choosePromptFormat(undefined, ORGANISM_TEMPLATE, false), {
    needleBos: true,
    bosTokenId: 1,
  });
  const d = withBos.build(256, 50, DEFAULT_NEEDLES[1]);
  assert.equal(d.promptIds.filter((t) => t === 1).length, 2, 'BOS at the start and before the needle');
  const bos = d.promptIds.indexOf(1, 1);
  assert.ok(bos >= d.span[0] - 1 && bos < d.span[1], `needle BOS at ${bos}, span ${d.span}`);
  const wrong = { ...DEFAULT_NEEDLES[0], id: 'wrong', real_needle: 'Something else entirely, nowhere in the text' };
  assert.throws(() => b.build(256, 0, wrong), /needle "wrong": its answer .* is not found/);
  assert.throws(() => b.build(30, 0, DEFAULT_NEEDLES[0]), /length 30 leaves no room for a haystack/);
  assert.throws(() => new CaseBuilder(tok, [' \n'], choosePromptFormat(undefined, null, false)), /the haystack is empty/);
});

test('needles: the bundled set in the reference JSON-lines format, and file errors', () => {
  assert.ok(DEFAULT_NEEDLES.length >= 6);
  assert.ok(DEFAULT_NEEDLES.every((x) => x.needle === x.real_needle && x.question.endsWith('?')));
  assert.equal(new Set(DEFAULT_NEEDLES.map((n) => n.id)).size, DEFAULT_NEEDLES.length);
  const bundled = join(repoRoot, 'data', 'needles.jsonl');
  assert.deepEqual(readNeedlesFile(bundled), DEFAULT_NEEDLES, 'data/needles.jsonl is the bundled set');
  assert.equal(readFileSync(bundled, 'utf8'), formatNeedles(DEFAULT_NEEDLES));
  const n = parseNeedles('{"needle": "A is 1.", "question": "What is A?", "real_needle": "A is 1."}\n\n');
  assert.deepEqual(n, [{ id: 'needle-1', needle: 'A is 1.', question: 'What is A?', real_needle: 'A is 1.' }]);
  assert.throws(() => parseNeedles('{"needle": "x"}', 'n.jsonl'), /n\.jsonl line 1 has no "question" string/);
  assert.throws(() => parseNeedles('nope', 'n.jsonl'), /line 1 is not JSON/);
  assert.throws(() => parseNeedles('\nnull', 'n.jsonl'), /line 2 is not a JSON object/);
  const line = (id: string) => JSON.stringify({ id, needle: 'A.', question: 'A?', real_needle: 'A.' });
  assert.throws(() => parseNeedles(`${line('a')}\n${line('a')}`, 'n.jsonl'), /line 2: needle id "a" is used twice/);
  assert.throws(() => parseNeedles('\n \n', 'n.jsonl'), /n\.jsonl has no needles/);
  const dir = tempDir();
  writeFileSync(join(dir, 'n.jsonl'), line('x'));
  assert.equal(readNeedlesFile(join(dir, 'n.jsonl'))[0].id, 'x');
  assert.throws(() => readNeedlesFile(join(dir, 'missing.jsonl')), /cannot read needles file/);
});
