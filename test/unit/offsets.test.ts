// Token offsets -> document offsets on text with multi-byte characters, CRLF line ends and a
// selection that starts mid-line, with the bundled model's real tokenizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { normalizeEol, textToDoc, promptToDoc, promptToText, positionAt, attentionRanges } from '../../src/extension/highlights/offsets.js';
import { tokenSpans, tokensOverlapping } from '../../src/shared/tokenSpans.js';
import { buildPrompt, insertionPoint } from '../../src/method/document.js';
import { bundledModel } from '../support/paths.js';

const DOC = 'Title line\r\nThe café served crème brûlée. Über 日本語 text 😀 here.\r\nSecond para ends.\r\nLast line with ñ.\r\n';
const NEEDLE = {
  id: 'n',
  needle: "Zorvak's secret code is 48213.",
  question: "What is Zorvak's secret code?",
  real_needle: "Zorvak's secret code is 48213.",
};
const TEMPLATE = '{context}\n\nQuestion: {question}\nAnswer:';

test('normalizeEol drops the CR of CRLF and textToDoc puts it back', () => {
  const m = normalizeEol('ab\r\ncd\r\n\r\ne', 10);
  assert.equal(m.text, 'ab\ncd\n\ne');
  assert.deepEqual(m.removedCr, [2, 5, 6]);
  // 'c' is at 3 in the text, 4 in the raw range, 14 in the document
  assert.equal(textToDoc(m, 3), 14);
  // 'e' at text 7 -> raw 10 (three CRs before it)
  assert.equal(textToDoc(m, 7), 20);
  // an end offset right before a '\n' stays before its CR
  assert.equal(textToDoc(m, 2), 12);
  // a lone CR (old Mac line end) is left alone
  assert.equal(normalizeEol('a\rb').text, 'a\rb');
});

test('positionAt counts CRLF as one line break and handles a start mid-line', () => {
  assert.deepEqual(positionAt(DOC, 0), { line: 0, character: 0 });
  assert.deepEqual(positionAt(DOC, DOC.indexOf('The')), { line: 1, character: 0 });
  assert.deepEqual(positionAt(DOC, DOC.indexOf('café')), { line: 1, character: 4 });
  assert.deepEqual(positionAt(DOC, DOC.indexOf('Second')), { line: 2, character: 0 });
  // between '\r' and '\n' is still the end of the line
  assert.deepEqual(positionAt(DOC, DOC.indexOf('\r\n') + 1), { line: 0, character: 11 });
  // surrogate pairs are two UTF-16 units, as in VS Code
  const afterEmoji = DOC.indexOf(' here');
  assert.equal(positionAt(DOC, afterEmoji).character - positionAt(DOC, DOC.indexOf('😀')).character, 2);
});

test('promptToText clips a range that straddles the inserted needle', () => {
  const segs = [
    { promptStart: 5, promptEnd: 10, textStart: 0 },
    { promptStart: 20, promptEnd: 30, textStart: 5 },
  ];
  assert.deepEqual(promptToText(segs, 8, 22), [
    [3, 5],
    [5, 7],
  ]);
  assert.deepEqual(promptToText(segs, 11, 19), []);
  assert.deepEqual(promptToText(segs, 0, 5), []);
});

test('insertionPoint walks back to a sentence end', () => {
  const t = 'One two. Three four five. Six.';
  assert.equal(insertionPoint(t, 0), 0);
  assert.equal(insertionPoint(t, 100), t.length);
  assert.equal(t.slice(0, insertionPoint(t, 85)), 'One two. Three four five.');
});

test('tokenSpans tile the decoded text; byte-fallback pieces of one character share its span', async () => {
  const tok = await loadTokenizer(bundledModel);
  const text = 'Über 日本語 😀 ok';
  const ids = tok.encode(text);
  const decode = (x: number[]) => tok.decode(x, { skipSpecialTokens: true });
  const spans = tokenSpans(ids, decode);
  assert.equal(spans.length, ids.length);
  assert.equal(decode(ids), text);
  // BOS has an empty span
  assert.equal(spans[0].end - spans[0].start, 0);
  // contiguous, ending at the text's end
  let end = 0;
  for (const s of spans) {
    assert.ok(s.start <= end && s.end >= s.start);
    end = Math.max(end, s.end);
  }
  assert.equal(end, text.length);
  // the emoji is 4 UTF-8 bytes; every token overlapping it maps onto exactly its two UTF-16 units
  const at = text.indexOf('😀');
  const [a, b] = tokensOverlapping(spans, at, at + 2);
  assert.ok(b - a >= 1);
  for (let i = a; i < b; i++) assert.equal(text.slice(spans[i].start, spans[i].end), '😀', `token ${i}`);
  // a long prompt through the windowed decode agrees with decoding from the start
  const long = 'naïve café '.repeat(40) + '😀 end';
  const lids = tok.encode(long);
  const ls = tokenSpans(lids, decode);
  let checked = 0;
  for (let i = 1; i < lids.length; i++) {
    const prefix = decode(lids.slice(0, i + 1));
    if (prefix.endsWith('\uFFFD')) {
      // first byte of an incomplete character: it shares the span of the character it starts
      assert.equal(long.slice(ls[i].start, ls[i].end).length >= 1, true);
      continue;
    }
    assert.equal(ls[i].end, prefix.length, `token ${i}`);
    checked++;
  }
  assert.ok(checked > 50);
});

test('every prompt token from a mid-line CRLF selection maps back onto the same document text', async () => {
  const tok = await loadTokenizer(bundledModel);
  // The selection starts in the middle of line 1 ("served ...") and runs to the end.
  const selStart = DOC.indexOf('served');
  const raw = DOC.slice(selStart);
  const eol = normalizeEol(raw, selStart);
  assert.ok(!eol.text.includes('\r'));
  const built = buildPrompt(TEMPLATE, eol.text, eol.text.length, NEEDLE, 50);
  const ids = tok.encode(built.prompt);
  const decode = (x: number[]) => tok.decode(x, { skipSpecialTokens: true });
  assert.equal(decode(ids), built.prompt);
  const spans = tokenSpans(ids, decode);
  let mapped = 0;
  for (let i = 0; i < ids.length; i++) {
    const { start, end } = spans[i];
    if (end === start) continue;
    const pieces = promptToDoc(built.segments, eol, start, end);
    const fromDoc = pieces.map(([a, b]) => DOC.slice(a, b).replace(/\r/g, '')).join('');
    const fromPrompt = promptToText(built.segments, start, end)
      .map(([a, b]) => eol.text.slice(a, b))
      .join('');
    assert.equal(fromDoc, fromPrompt, `token ${i} (${JSON.stringify(built.prompt.slice(start, end))})`);
    if (pieces.length) mapped++;
  }
  assert.ok(mapped > 20, `mapped ${mapped} tokens`);
  // The first token of the selection lands on line 1, mid-line.
  const first = spans.findIndex((s) => s.end > built.segments[0].promptStart);
  const [[docStart]] = promptToDoc(built.segments, eol, spans[first].start, spans[first].end);
  assert.deepEqual(positionAt(DOC, docStart), { line: 1, character: DOC.indexOf('served') - DOC.indexOf('The') });
  // Needle tokens are not in the document: they map to nothing.
  const [n0, n1] = tokensOverlapping(spans, built.needleChars[0], built.needleChars[1]);
  for (let i = n0; i < n1; i++) {
    const inner = Math.max(spans[i].start, built.needleChars[0]) < Math.min(spans[i].end, built.needleChars[1]);
    if (inner && spans[i].start >= built.needleChars[0] && spans[i].end <= built.needleChars[1])
      assert.deepEqual(promptToDoc(built.segments, eol, spans[i].start, spans[i].end), []);
  }
  // Text after the needle on a later CRLF line maps to the right line.
  const lastTok = spans.findIndex((s) => built.prompt.slice(s.start, s.end).includes('ñ'));
  const [[ds]] = promptToDoc(built.segments, eol, spans[lastTok].start, spans[lastTok].end);
  assert.equal(positionAt(DOC, ds).line, 3);
  // attentionRanges keeps weights relative to the strongest and drops needle positions
  const r = attentionRanges(spans, built.segments, eol, [lastTok, n0, first], [0.5, 0.9, 0.25]);
  assert.ok(r.some((x) => x.weight > 0.5 && x.weight < 0.6));
  assert.ok(r.every((x) => x.weight <= 1));
});
