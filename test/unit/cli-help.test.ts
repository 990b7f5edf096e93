// --version, --help and every command's -h: answered from the help specs, before any command module
// (and so onnxruntime and transformers.js) is loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { formatHelp, HELP_WIDTH, wrap } from '../../src/cli/usage.js';
import { repoRoot } from '../support/paths.js';

const COMMANDS = ['inspect', 'generate', 'detect', 'ablate', 'analyze', 'kv-whatif', 'attribute', 'merge'];

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), signal: new AbortController().signal });
  return { code, out, err };
}

const loaded = (part: string) => Object.keys(require.cache).filter((k) => k.includes(part));

test('--version and -V print the package version and exit 0', async () => {
  const version = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.out, `retrieval-lens ${version}\n`);
    assert.equal(r.err, '');
  }
});

test('every command answers -h, --help and "help <command>" without loading its module', async () => {
  const overview = await cli(['--help']);
  assert.equal(overview.code, 0);
  for (const name of COMMANDS) assert.match(overview.out, new RegExp(`^  ${name} +\\S`, 'm'), `${name} in the overview`);
  for (const name of COMMANDS) {
    for (const args of [
      [name, '-h'],
      [name, '--help'],
      ['help', name],
      [name, '--bogus', '--lengths', 'x', '-h'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err, '');
      assert.ok(r.out.startsWith(`usage: retrieval-lens ${name} `), r.out);
      assert.match(r.out, /^  -h, --help +print this help and exit$/m);
      for (const line of r.out.split('\n')) assert.ok(line.length <= HELP_WIDTH, `${name}: a line of ${line.length}: ${line}`);
    }
  }
  // After a -h of every command: no command module and no onnxruntime loaded.
  assert.deepEqual(loaded('src/cli/commands/'), []);
  assert.deepEqual(loaded('onnxruntime'), []);
  // The check can see a loaded command: analyze loads its module (and fails on the missing file).
  assert.equal((await cli(['analyze', '/nonexistent/scores.json'])).code, 1);
  assert.equal(loaded('src/cli/commands/analyze').length, 1);
});

test('-h after "--" is an argument, not help', async () => {
  const r = await cli(['analyze', '--', '-h']);
  assert.equal(r.code, 1, 'the file "-h" does not exist');
  assert.match(r.err, /^error: /);
});

test('help layout: flags in a column, descriptions wrapped beside them, notes as paragraphs', () => {
  const text = formatHelp('demo', {
    summary: 'A demo command.',
    usage: 'FILE [options]',
    options: [
      ['--short', 'a short one'],
      ['--a-very-long-flag-name VALUE,VALUE', 'its description goes on the next line'],
      ['--wordy X', 'word '.repeat(40).trim()],
    ],
    notes: ['First paragraph.', 'Second paragraph.'],
  });
  const lines = text.split('\n');
  assert.equal(lines[0], 'usage: retrieval-lens demo FILE [options]');
  assert.equal(lines[2], 'A demo command.');
  const short = lines.find((l) => l.startsWith('  --short'))!;
  const wordy = lines.findIndex((l) => l.startsWith('  --wordy'));
  const col = short.indexOf('a short one');
  assert.equal(lines[wordy].slice(0, col).trimEnd(), '  --wordy X');
  assert.ok(lines[wordy].slice(col).startsWith('word word'));
  assert.equal(lines[wordy + 1].indexOf('word'), col, 'continuation lines keep the column');
  const long = lines.findIndex((l) => l.startsWith('  --a-very-long-flag-name'));
  assert.equal(lines[long], '  --a-very-long-flag-name VALUE,VALUE');
  assert.equal(lines[long + 1].indexOf('its description'), col);
  assert.deepEqual(lines.slice(-5), ['', 'First paragraph.', '', 'Second paragraph.', '']);
  assert.deepEqual(wrap('aa bb cc', 5), ['aa bb', 'cc']);
});
