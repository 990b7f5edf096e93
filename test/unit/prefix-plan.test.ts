// plannedKeep (src/engine/prefix.ts): which cached prompts a prefix cache keeps for the prompts it
// was told are coming, and how many positions of each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plannedKeep } from '../../src/engine/prefix.js';

const run = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

test('keeps the prompt a coming one shares most with, cut to what it shares, and drops the rest', () => {
  const longest = run(0, 100);
  const a = [...run(0, 10), ...run(500, 60)]; // a depth-0-like prompt: leaves the longest early
  const b = [...run(0, 10), ...run(900, 60)]; // shares nothing with what is coming beyond the longest
  const coming = [[...a.slice(0, 40), 1, 2, 3]];
  const kept = plannedKeep([longest, a, b], [null, null, null], coming, 1000);
  assert.deepEqual(
    [...kept],
    [
      [0, 100],
      [1, 40],
    ],
  );
});

test('a stored prompt costs its whole length; the best saving per position goes first; the room is kept', () => {
  const longest = run(0, 100);
  const big = [...run(0, 5), ...run(500, 95)]; // stored: costs 100, saves 60 - 5 = 55
  const small = [...run(0, 5), ...run(700, 35)]; // new: cut to 30, saves 25 (a better rate)
  const coming = [big.slice(0, 60), small.slice(0, 30)];
  assert.deepEqual(
    [...plannedKeep([longest, big, small], [null, 100, null], coming, 130)],
    [
      [0, 100],
      [2, 30],
      [1, 100],
    ],
  );
  // Room for one of them only: the better rate.
  assert.deepEqual(
    [...plannedKeep([longest, big, small], [null, 100, null], coming, 129)],
    [
      [0, 100],
      [2, 30],
    ],
  );
});

test('what the longest already serves earns no place, and nothing coming keeps the longest alone', () => {
  const longest = run(0, 100);
  const inside = [...run(0, 60), 7, 7];
  assert.deepEqual([...plannedKeep([longest, inside], [null, null], [run(0, 80)], 1000)], [[0, 100]]);
  assert.deepEqual([...plannedKeep([longest, inside], [null, null], [], 1000)], [[0, 100]]);
});
