// The CLI's JSON writer: what JSON.stringify gives back, with leaf arrays on one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatJson } from '../../src/cli/json.js';

const roundTrip = (v: unknown) => JSON.parse(JSON.stringify(v));

test('the same value as JSON.stringify: toJSON, undefined, NaN, nested, escapes', () => {
  const values: unknown[] = [
    { a: 1, b: [1, 2, 3], c: { d: 'x\ny"z', e: null, f: undefined, g: NaN, h: -0, i: 1e-7 } },
    [[1, 2], [], {}, [{ x: 1 }, { y: [true, false] }]],
    { when: new Date(0), deep: { deeper: { deepest: [[[1]], 'é', '\u2028'] } } },
    [undefined, () => 1, Infinity],
    'text',
    42,
    null,
  ];
  for (const v of values) assert.deepEqual(JSON.parse(formatJson(v)), roundTrip(v), JSON.stringify(v));
  assert.equal(formatJson(undefined), 'null');
});

test('arrays of numbers, strings, booleans or nulls stay on one line; objects are indented', () => {
  const ids = Array.from({ length: 774 }, (_, i) => i * 7);
  const text = formatJson({
    promptTokenIds: ids,
    text: 'a',
    steps: [
      {
        token: 1,
        argmax: [
          [1, 2],
          [3, 4],
        ],
      },
    ],
  });
  // One line for the 774 ids (JSON.stringify(x, null, 1) gives 776).
  assert.equal(text.split('\n').filter((l) => l.includes('"promptTokenIds"')).length, 1);
  assert.ok(text.split('\n').length < 20, text);
  assert.match(text, /"promptTokenIds": \[0, 7, 14,/);
  // A matrix is one row a line.
  assert.match(text, /"argmax": \[\n\s+\[1, 2\],\n\s+\[3, 4\]\n\s+\]/);
  assert.equal(formatJson({ a: { b: 1 } }, 2), '{\n  "a": {"b": 1}\n}');
  assert.equal(formatJson([]), '[]');
  assert.equal(formatJson({}), '{}');
});

test('small flat objects inline, long ones broken', () => {
  assert.equal(formatJson([{ layer: 5, head: 0 }]), '[\n  {"layer": 5, "head": 0}\n]');
  assert.equal(formatJson({ mask: { heads: [], mode: 'uniform' } }), '{\n  "mask": {"heads": [], "mode": "uniform"}\n}');
  const long = { a: 'x'.repeat(40), b: 'y'.repeat(40) };
  assert.equal(formatJson(long), `{\n  "a": "${long.a}",\n  "b": "${long.b}"\n}`);
});
