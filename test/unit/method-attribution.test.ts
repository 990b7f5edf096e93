// Context attribution's pure parts: LF/CRLF offsets, sentences and lines, the prompt's map back to
// the document through a byte-level tokenization (multi-byte characters split across tokens),
// head mixing, per-token sources and the grounding score.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attributeToken,
  buildContextPrompt,
  classifyTokens,
  combineSources,
  grounding,
  mixHeads,
  splitUnits,
  toLf,
  toRawOffset,
  type PositionKind,
} from '../../src/method/attribution.js';
import { tokenSpans } from '../../src/shared/tokenSpans.js';

// A document as a Windows editor saves it: CRLF, accents, CJK, an emoji (a UTF-16 surrogate pair).
const RAW =
  'Café “naïve” owners met at 日本橋.\r\nThe 😀 key opens door 7.\r\n\r\nZorvak’s secret code is 48213. It rained.\r\nLast line here';

test('CRLF -> LF and back: every LF offset maps to the same character of the original', () => {
  const eol = toLf(RAW);
  assert.equal(eol.text, RAW.replace(/\r\n/g, '\n'));
  assert.equal(eol.removedCr.length, 4);
  // A "\n" that was "\r\n" starts at its CR, so the range of that one character is the whole line end.
  for (let i = 0; i < eol.text.length; i++) {
    const at = toRawOffset(eol, i);
    const want = eol.text[i] === '\n' && RAW[at] === '\r' ? '\r\n' : eol.text[i];
    assert.equal(RAW.slice(at, toRawOffset(eol, i + 1)), want, `offset ${i}`);
  }
  assert.equal(toRawOffset(eol, eol.text.length), RAW.length);
  // A range ending right before a line break ends before its CR.
  const nl = eol.text.indexOf('\n');
  assert.equal(RAW.slice(0, toRawOffset(eol, nl)), 'Café “naïve” owners met at 日本橋.');
  assert.deepEqual(toLf('a\rb\r\n'), { text: 'a\rb\n', removedCr: [3] }, 'a lone CR is text, not a line end');
});

test('sentences and lines as spans of the original text, without their whitespace', () => {
  const s = splitUnits(RAW, 'sentence').map((u) => RAW.slice(u.start, u.end));
  assert.deepEqual(s, [
    'Café “naïve” owners met at 日本橋.',
    'The 😀 key opens door 7.',
    'Zorvak’s secret code is 48213.',
    'It rained.',
    'Last line here',
  ]);
  const l = splitUnits(RAW, 'line').map((u) => RAW.slice(u.start, u.end));
  assert.deepEqual(l, [
    'Café “naïve” owners met at 日本橋.',
    'The 😀 key opens door 7.',
    'Zorvak’s secret code is 48213. It rained.',
    'Last line here',
  ]);
  // Wrapped prose: one line break does not end a sentence, a blank line does; closing quotes stay.
  const wrapped = 'He said "go on."  Then he\nwent home\n\nNew part';
  assert.deepEqual(
    splitUnits(wrapped, 'sentence').map((u) => wrapped.slice(u.start, u.end)),
    ['He said "go on."', 'Then he\nwent home', 'New part'],
  );
  assert.deepEqual(splitUnits('  \r\n ', 'sentence'), []);
});

/** A byte-level tokenizer: one token per UTF-8 byte; decoding a byte run that cuts a character gives U+FFFD. */
const bytes = (s: string) => Array.from(new TextEncoder().encode(s));
const decodeBytes = (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids));

test('prompt tokens map to the document: multi-byte characters split over several tokens, CRLF restored', () => {
  const eol = toLf(RAW);
  const { prompt, segments } = buildContextPrompt('<doc>{context}</doc>\nQ: {question}\nA:', eol.text, 'What is the code?');
  assert.equal(prompt, `<doc>${eol.text}</doc>\nQ: What is the code?\nA:`);
  assert.deepEqual(segments, [{ promptStart: 5, promptEnd: 5 + eol.text.length, textStart: 0 }]);
  const ids = bytes(prompt);
  const spans = tokenSpans(ids, decodeBytes);
  const kinds = classifyTokens(spans, segments, eol);
  assert.equal(kinds.length, ids.length);
  const contextTokens = kinds.filter((k) => k.kind === 'context') as Extract<PositionKind, { kind: 'context' }>[];
  assert.equal(contextTokens.length, bytes(eol.text).length, 'every byte of the document is a document token');
  assert.ok(kinds.slice(0, 5).every((k) => k.kind === 'prompt'));
  assert.ok(kinds.slice(-bytes('</doc>\nQ: What is the code?\nA:').length).every((k) => k.kind === 'prompt'));
  // Each token's span in the original is the whole character it is a byte of; a "\n" token is "\r\n" there.
  const chars = [...RAW.replace(/\r\n/g, '\n')];
  let t = 0;
  let lf = 0;
  for (const ch of chars) {
    const n = bytes(ch).length;
    const want = ch === '\n' ? '\r\n' : ch;
    for (let b = 0; b < n; b++, t++)
      assert.equal(RAW.slice(contextTokens[t].start, contextTokens[t].end), want, `token ${t} of ${JSON.stringify(ch)}`);
    lf += ch.length;
  }
  assert.equal(toRawOffset(eol, lf), RAW.length);
  // Special tokens (empty spans) are neither document nor prompt.
  assert.deepEqual(classifyTokens([{ start: 0, end: 0 }], segments, eol), [{ kind: 'special' }]);
});

test("head mixing weighs each head's row by its score", () => {
  // [layers 2, heads 2, kvLen 3]
  const rows = Float32Array.from([0, 0, 1, 0, 1, 0, 1, 0, 0, 0.5, 0.5, 0]);
  const mix = mixHeads(rows, 3, 2, [
    { layer: 0, head: 1, score: 0.3 },
    { layer: 1, head: 0, score: 0.1 },
  ]);
  assert.deepEqual(
    Array.from(mix, (v) => Math.round(v * 1000) / 1000),
    [0.25, 0.75, 0],
  );
  const even = mixHeads(rows, 3, 2, [{ layer: 0, head: 0, score: 0 }]);
  assert.deepEqual(Array.from(even), [0, 0, 1]);
});

test("a token's sources: document attention summed per sentence, best first, with its share of the attention", () => {
  const eol = toLf(RAW);
  const { prompt, segments } = buildContextPrompt('{context}\nQ: {question}\nA:', eol.text, 'What is the code?');
  const ids = bytes(prompt);
  const kinds = classifyTokens(tokenSpans(ids, decodeBytes), segments, eol);
  const units = splitUnits(RAW, 'sentence');
  const needle = RAW.indexOf('Zorvak');
  const needleUnit = units.find((u) => u.start === needle)!;
  // 0.6 on the bytes of "48213", 0.1 on "door 7", 0.2 on the question, 0.1 on an earlier answer token.
  const lfAt = (s: string) => new TextEncoder().encode(eol.text.slice(0, eol.text.indexOf(s))).length;
  const mix = new Float64Array(ids.length + 1);
  for (let i = 0; i < 5; i++) mix[lfAt('48213') + i] = 0.12;
  mix[lfAt('door 7') + 5] = 0.1;
  mix[ids.length - 5] = 0.2;
  mix[ids.length] = 0.1;
  const a = attributeToken(mix, kinds, units, 3);
  assert.equal(a.sources.length, 2);
  assert.deepEqual([a.sources[0].start, a.sources[0].end], [needleUnit.start, needleUnit.end]);
  assert.equal(RAW.slice(a.sources[0].start, a.sources[0].end), 'Zorvak’s secret code is 48213.');
  assert.ok(Math.abs(a.sources[0].weight - 0.6) < 1e-9);
  assert.equal(RAW.slice(a.sources[1].start, a.sources[1].end), 'The 😀 key opens door 7.');
  assert.ok(Math.abs(a.contextShare - 0.7) < 1e-9);
  assert.equal(attributeToken(mix, kinds, units, 1).sources.length, 1);
  // A token straddling two sentences splits its weight by overlap.
  const straddle: PositionKind[] = [{ kind: 'context', start: needleUnit.end - 2, end: needleUnit.end + 3 }];
  const s = attributeToken([1], straddle, units, 3);
  assert.equal(s.sources.length, 2);
  assert.ok(Math.abs(s.sources[0].weight - 0.5) < 1e-9 && Math.abs(s.sources[1].weight - 0.5) < 1e-9);
});

test('grounding: the share of answer tokens reading mostly the document, flagged below the threshold', () => {
  assert.deepEqual(grounding([0.9, 0.8, 0.2, 0.6], 0.5), { score: 0.75, groundedTokens: 3, answerTokens: 4, threshold: 0.5, low: false });
  assert.equal(grounding([0.9, 0.1, 0.2, 0.5], 0.5).low, true, 'exactly half is not mostly');
  assert.equal(grounding([], 0.5).score, 0);
});

test("an answer's sources: its tokens' sources summed, weights averaged over the tokens, best first", () => {
  const a = { start: 0, end: 10 };
  const b = { start: 12, end: 20 };
  const c = { start: 30, end: 40 };
  const got = combineSources(
    [
      {
        sources: [
          { ...a, weight: 0.6 },
          { ...b, weight: 0.2 },
        ],
      },
      { sources: [{ ...b, weight: 0.9 }] },
      {
        sources: [
          { ...c, weight: 0.3 },
          { ...a, weight: 0.3 },
        ],
      },
    ],
    2,
  );
  assert.deepEqual(
    got.map((s) => [s.start, s.end, Math.round(s.weight * 1000) / 1000]),
    [
      [b.start, b.end, 0.367],
      [a.start, a.end, 0.3],
    ],
  );
  assert.deepEqual(combineSources([], 3), []);
});
