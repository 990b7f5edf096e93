// generate --attention's table: each chosen head's strongest position per generated token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAttentionTable, quoteToken, stepPeaks } from '../../src/cli/attentionTable.js';

// 2 layers x 2 heads over 4 positions: [layers, heads, kvLen]
const rows = Float32Array.from([
  // 0-0: a sink on position 0, then position 2
  0.7, 0.05, 0.2, 0.05,
  // 0-1: position 3
  0.1, 0.1, 0.1, 0.7,
  // 1-0: position 1, sharp
  0.02, 0.95, 0.02, 0.01,
  // 1-1: flat
  0.25, 0.25, 0.25, 0.25,
]);
const shape = { layers: 2, heads: 2, kvLen: 4 };

test('ranked by peak, position 0 left out; named heads over every position', () => {
  const top = stepPeaks(rows, shape, { top: 3 });
  assert.deepEqual(
    top.map((p) => [p.layer, p.head, p.position]),
    [
      [1, 0, 1],
      [0, 1, 3],
      [1, 1, 1],
    ],
  );
  assert.ok(Math.abs(top[0].weight - 0.95) < 1e-6);
  const named = stepPeaks(rows, shape, {
    heads: [
      { layer: 0, head: 0 },
      { layer: 1, head: 1 },
    ],
  });
  assert.deepEqual(
    named.map((p) => [p.layer, p.head, p.position]),
    [
      [0, 0, 0],
      [1, 1, 0],
    ],
    'with --heads the sink counts (ties go to the first position)',
  );
  assert.equal(stepPeaks(Float32Array.from([1, 1, 1, 1]), { layers: 2, heads: 2, kvLen: 1 }, { top: 1 })[0].position, 0);
});

test('one line per generated token; * where a head attends to the token it generates', () => {
  // Sequence: prompt "a b c" (positions 0-2), answer "b" (3) then "d" (4).
  const seq = [10, 11, 12, 11, 13];
  const words: Record<number, string> = { 10: 'a', 11: ' b', 12: ' c', 13: ' d' };
  const text = formatAttentionTable(
    [
      { position: 3, token: 11, peaks: [{ layer: 1, head: 0, position: 1, weight: 0.95 }] },
      { position: 4, token: 13, peaks: [{ layer: 1, head: 0, position: 2, weight: 0.031 }] },
    ],
    (p) => seq[p],
    (p) => words[seq[p]],
    { promptTokens: 3, heads: 'the heads given with --heads' },
  );
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[1], /prompt is positions 0-2/);
  assert.equal(lines[3], '   1  " b"   1-0 @1 " b" .95*');
  assert.equal(lines[4], '   2  " d"   1-0 @2 " c" .03');
  assert.equal(quoteToken('a\nb'), '"a\\nb"');
  assert.equal(quoteToken('x'.repeat(30)), `"${'x'.repeat(9)}…"`);
});
