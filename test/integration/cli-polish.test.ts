// The CLI as a tool: help lists exactly the flags each command takes, -h loads nothing, progress is
// one redrawn line on a terminal and plain lines when piped, checks come before the run's first
// line, generate --attention shows a table, --json keeps arrays on one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { lastParsedSpec } from '../../src/cli/args.js';
import { ensureBuilt } from '../support/cli.js';
import { bundledModel, repoRoot, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');
const COMMANDS = ['inspect', 'generate', 'detect', 'ablate', 'analyze', 'kv-whatif', 'attribute', 'merge'];

async function cli(args: string[], tty = false) {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), signal: new AbortController().signal };
  const code = await main(args, tty ? { ...io, stderrIsTTY: true, columns: 100 } : io);
  return { code, out, err };
}

test("each command's help lists exactly the flags its parser takes", async () => {
  for (const name of COMMANDS) {
    const help = (await cli([name, '--help'])).out;
    const listed = [...help.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1].slice(2)).sort();
    // Any run parses its flags first; an unknown one stops it there, after the parser has seen the spec.
    const r = await cli([name, '--not-a-flag-of-any-command']);
    assert.equal(r.code, 2, r.err);
    const taken = Object.keys(lastParsedSpec() ?? {}).sort();
    assert.deepEqual(listed, taken, `${name}: help vs parser`);
  }
});

test('the built CLI: --version and detect -h exit 0 at once without loading onnxruntime', () => {
  ensureBuilt();
  // Reports on stderr every time onnxruntime-node is required.
  const probe = `const M = require('module'); const load = M._load;
M._load = function (r, ...a) { if (r === 'onnxruntime-node') process.stderr.write('ORT LOADED\\n'); return load.call(this, r, ...a); };
require(${JSON.stringify(join(repoRoot, 'dist', 'cli.js'))}).runCli();`;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['-e', probe, '--', 'retrieval-lens', ...args], { encoding: 'utf8', timeout: 30_000 });
  for (const args of [['--version'], ['-V'], ['detect', '-h'], ['ablate', '--help'], ['help', 'generate']]) {
    const t0 = Date.now();
    const r = run(...args);
    const ms = Date.now() - t0;
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, '', `${args.join(' ')} loads nothing and says nothing on stderr`);
    assert.match(r.stdout, /^(retrieval-lens \d+\.\d+\.\d+\n|usage: retrieval-lens )/);
    assert.ok(ms < 5000, `${args.join(' ')}: ${ms} ms`);
  }
  // The probe sees a real load: inspect loads the model.
  const inspect = run('inspect', '--model', bundledModel);
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.match(inspect.stderr, /ORT LOADED/);
});

test('detect: checks before the header; progress is one redrawn line on a terminal, one line per case piped', async () => {
  const tooLong = await cli(['detect', '--lengths', '4096']);
  assert.equal(tooLong.code, 1);
  assert.match(tooLong.err, /^error: .*4096/);
  assert.doesNotMatch(tooLong.err, /detecting/, 'no header before the error');

  const grid = ['detect', '--lengths', '256', '--depths', '50'];
  const piped = await cli(grid);
  assert.equal(piped.code, 0, piped.err);
  const lines = piped.err.trimEnd().split('\n');
  assert.match(lines[0], /^detecting retrieval heads of .*1 lengths x 1 depths x 3 needles = 3 cases$/);
  assert.deepEqual(
    lines.slice(1).map((l) => l.replace(/ ETA .*/, '')),
    ['[1/3] 33%', '[2/3] 67%', '[3/3] 100%'],
  );
  assert.doesNotMatch(piped.err, /\r|\x1b/);

  const tty = await cli(grid, true);
  assert.equal(tty.code, 0, tty.err);
  const ttyLines = tty.err.split('\n');
  // The header, the progress line (redrawn in place), and the newline that ends it.
  assert.equal(ttyLines.length, 3, JSON.stringify(tty.err));
  assert.match(ttyLines[0], /^detecting retrieval heads/);
  const draws = ttyLines[1].split('\r\x1b[2K').filter(Boolean);
  assert.ok(draws.length >= 4, `a draw when the cell starts and after each case: ${draws.length}`);
  assert.match(draws[0], /0\/3 0% · ETA -- · 256 tokens, depth 50%, 3 needles$/);
  assert.match(draws.at(-1)!, /3\/3 100% · done in \d+s · 0 failed$/);
  for (const d of draws) assert.ok([...d].length < 100, d);
  assert.equal(tty.out, piped.out, 'the same result');
});

test('ablate says what it will run before its progress, and checks come first', async () => {
  const dir = tempDir('rl-polish-');
  const scores = join(dir, 'scores.json');
  assert.equal((await cli(['detect', '--lengths', '256', '--depths', '0,50', '--out', scores])).code, 0);
  const shown = await cli([
    'generate',
    '--prompt',
    NEEDLE_PROMPT,
    '--attention',
    '--scores',
    scores,
    '--top-heads',
    '3',
    '--max-new-tokens',
    '3',
  ]);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /attention per generated token, the top 3 heads of .*scores\.json:/);
  const bad = await cli(['ablate', '--scores', scores, '--lengths', '4096']);
  assert.equal(bad.code, 1);
  assert.doesNotMatch(bad.err, /ablating/);
  const r = await cli(['ablate', '--scores', scores, '--k', '1', '--random-trials', '1', '--lengths', '256']);
  assert.equal(r.code, 0, r.err);
  const lines = r.err.trimEnd().split('\n');
  assert.match(
    lines[0],
    /^ablating .*: 3 fresh cases \(lengths 256; depths 25%; needles .*\), each with no mask, then for k = 1 the top-k of the \d+ retrieval heads masked and 1 draw of k random other heads \(mask uniform, decode\): 3 conditions x 3 cases = 9 generations$/,
  );
  assert.equal(lines.length, 10);
  assert.match(lines[1], /^\[1\/9\] 11% ETA \S+ {2}no mask, case 1\/3$/);
  assert.match(lines[4], /^\[4\/9\] 44% ETA \S+ {2}top-1 masked \(\d-\d\), case 1\/3$/);
  assert.match(lines[9], /^\[9\/9\] 100% ETA 0s {2}1 random masked, draw 1\/1 \(\d-\d\), case 3\/3$/);
});

const NEEDLE_PROMPT =
  'The old ship sailed along the coast for many days. The sailors sang songs at night and mended their nets. ' +
  "Zorvak's secret code is 48213. The captain wrote in his book every evening and watched the stars. " +
  'When the wind was strong the sails were full and the ship was fast.' +
  "\n\nQuestion: What is Zorvak's secret code?\nAnswer:";

test('generate --attention without --json: a table, one line per generated token', async () => {
  const r = await cli(['generate', '--prompt', NEEDLE_PROMPT, '--attention', '--heads', '5:0,5:5,5:4', '--max-new-tokens', '30']);
  assert.equal(r.code, 0, r.err);
  const [text, table] = r.out.split('\n\n');
  assert.match(text, /48213/);
  const rows = table.trimEnd().split('\n').slice(3);
  assert.ok(rows.length >= 10 && rows.length <= 30, table);
  assert.match(table, /^attention per generated token, the heads given with --heads/);
  for (const [i, row] of rows.entries()) {
    assert.match(row, new RegExp(`^ +${i + 1}  "`));
    assert.equal(row.match(/\b5-[054] @\d+ /g)?.length, 3, row);
  }
  // The retrieval heads copy the code's digits out of the needle: the digit rows are marked.
  const digits = rows.filter((row) => /^ +\d+ {2}"\d"/.test(row));
  assert.ok(digits.length >= 4, table);
  assert.ok(digits.filter((row) => (row.match(/\*/g) ?? []).length >= 2).length >= 4, table);

  const ranked = await cli(['generate', '--prompt', NEEDLE_PROMPT, '--attention', '--top-heads', '2', '--max-new-tokens', '5']);
  assert.equal(ranked.code, 0, ranked.err);
  const rankedRows = ranked.out.split('\n\n')[1].trimEnd().split('\n').slice(3);
  for (const row of rankedRows) assert.equal(row.match(/\d-\d @\d+ /g)?.length, 2, row);
  assert.doesNotMatch(ranked.out, / @0 /, 'position 0 is left out of the ranking');
});

test('generate: --heads/--scores/--top-heads are checked; --json keeps arrays on one line', async () => {
  for (const args of [
    ['--heads', '5:0'],
    ['--attention', '--json', '--top-heads', '2'],
    ['--attention', '--heads', '5:0', '--top-heads', '2'],
    ['--attention', '--heads', 'x'],
  ]) {
    const r = await cli(['generate', '--prompt', 'Hello', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /^error: --(heads|top-heads|scores)/);
  }
  const missing = await cli(['generate', '--prompt', 'Hello', '--attention', '--heads', '6:0']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: --heads 6:0: the model has 6 layers of 8 heads/);

  const long = NEEDLE_PROMPT.repeat(6);
  const r = await cli(['generate', '--prompt', long, '--attention', '--json', '--max-new-tokens', '3']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.ok(j.promptTokenIds.length > 300, `${j.promptTokenIds.length} prompt tokens`);
  const lines = r.out.split('\n');
  assert.equal(lines.filter((l) => l.includes('"promptTokenIds"')).length, 1);
  // Per step: its object, 6 argmax rows and the brackets; the prompt's ids on one line.
  assert.ok(lines.length < 60, `${lines.length} lines`);
  assert.ok(JSON.stringify(j, null, 1).split('\n').length > j.promptTokenIds.length, 'what an indented JSON.stringify would print');
});
