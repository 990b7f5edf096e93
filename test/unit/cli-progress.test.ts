// Progress of long runs: one line redrawn in place on a terminal, one plain line per case when piped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, progressBar, progressLine, ProgressReporter, ttyProgressLine } from '../../src/cli/progress.js';
import type { CliIO } from '../../src/cli/io.js';

function fakeIO(tty: boolean, columns = 80): CliIO & { err: () => string } {
  let err = '';
  return {
    stdout: () => {},
    stderr: (t) => (err += t),
    signal: new AbortController().signal,
    stderrIsTTY: tty,
    columns,
    err: () => err,
  };
}

test('durations, bar and the piped line', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59_400), '59s');
  assert.equal(formatDuration(65_000), '1m05s');
  assert.equal(formatDuration(3_725_000), '1h02m');
  assert.equal(progressBar(0, 10, 10), '░'.repeat(10));
  assert.equal(progressBar(5, 10, 10), '█'.repeat(5) + '░'.repeat(5));
  assert.equal(progressBar(10, 10, 10), '█'.repeat(10));
  assert.equal(progressLine(12, 30, 65_000, '512 tokens'), '[12/30] 40% ETA 1m05s  512 tokens\n');
});

test('the terminal line: bar, cases, percent, ETA, current case; cut to the width', () => {
  const line = ttyProgressLine(
    { done: 12, total: 45, etaMs: 65_000, current: '1984 tokens, depth 50%, 3 needles', tally: '0 failed' },
    200,
  );
  assert.equal(line, `${progressBar(12, 45)} 12/45 27% · ETA 1m05s · 1984 tokens, depth 50%, 3 needles · 0 failed`);
  assert.match(ttyProgressLine({ done: 0, total: 45 }, 200), /0\/45 0% · ETA --$/);
  assert.match(ttyProgressLine({ done: 45, total: 45, etaMs: 0, elapsedMs: 33_000 }, 200), /45\/45 100% · done in 33s$/);
  const narrow = ttyProgressLine({ done: 1, total: 2, etaMs: 1000, current: 'x'.repeat(200) }, 60);
  assert.equal([...narrow].length, 59, 'one column spare');
  assert.ok(narrow.endsWith('…'));
  assert.doesNotMatch(narrow, /\n/);
});

test('on a terminal: one line redrawn in place, a newline only at the end', () => {
  const io = fakeIO(true);
  let now = 0;
  const p = new ProgressReporter(io, () => now);
  p.start('512 tokens, depth 0%', { done: 0, total: 3 });
  now = 1000;
  p.update({ done: 1, total: 3, etaMs: 2000 }, 'case 1 retrieved', '0 failed');
  p.start('512 tokens, depth 50%');
  now = 2500;
  p.note('warning: something');
  p.update({ done: 2, total: 3, etaMs: 1000 }, 'case 2 retrieved', '1 failed');
  now = 3000;
  p.update({ done: 3, total: 3, etaMs: 0 }, 'case 3 retrieved', '1 failed');
  p.end();
  const err = io.err();
  // Lines end only after the note and at the end: everything else redraws with \r + clear-line.
  const lines = err.split('\n');
  assert.equal(lines.length, 3, JSON.stringify(err));
  assert.match(lines[0], /\r\x1b\[2Kwarning: something$/);
  assert.ok(err.endsWith('\n'));
  const last = lines[1].split('\r\x1b[2K').at(-1)!;
  assert.equal(last, `${progressBar(3, 3)} 3/3 100% · done in 3s · 1 failed`);
  assert.match(err, /1\/3 33% · ETA 2s · 512 tokens, depth 50% · 0 failed/);
  // The ETA counts down between finished cases.
  assert.match(err, /1\/3 33% · ETA 1s · 512 tokens, depth 50% · 0 failed/, 'redrawn after the note with 1.5 s gone');
  assert.doesNotMatch(err, /case \d retrieved/, 'the piped detail is not on the terminal line');
});

test('piped: one plain line per finished case, no escape codes', () => {
  const io = fakeIO(false);
  const p = new ProgressReporter(io, () => 0);
  p.start('512 tokens, depth 0%', { done: 0, total: 2 });
  p.update({ done: 1, total: 2, etaMs: 5000 }, '512 tokens, depth 0%: retrieved');
  p.note('warning: w');
  p.update({ done: 2, total: 2, etaMs: 0 }, '512 tokens, depth 0%: failed');
  p.end();
  assert.equal(
    io.err(),
    '[1/2] 50% ETA 5s  512 tokens, depth 0%: retrieved\nwarning: w\n[2/2] 100% ETA 0s  512 tokens, depth 0%: failed\n',
  );
});
