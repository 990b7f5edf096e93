// Items 10-18 of the hardening issue (1-9: hardening.test.ts). The hardening issue, one test (or more) per numbered item: bad models, files, flags and texts
// give one `error:` line with exit 1 (what it was given) or 2 (how it was called), never a stack,
// a hang, a poisoned cache, a partial file or a silently wrong result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fillTemplate } from '../../src/method/cases.js';
import { buildPrompt } from '../../src/method/document.js';
import { parseScoresJson, writeFilesAtomic } from '../../src/method/formats.js';
import { summarize } from '../../src/method/aggregate.js';
import { renderChatTemplate } from '../../src/engine/chatTemplate.js';
import { hubDownloadDir } from '../../src/shared/hubCache.js';
import { loadModel } from '../../src/engine/model.js';
import { RetrievalLensError } from '../../src/shared/errors.js';
import { assertCleanError, assertNoStack, assertUnchanged, cli, copyModel, snapshot, spawnCli } from '../support/cli.js';
import { bundledModel, repoRoot, tempDir } from '../support/paths.js';
import { cache, isRoot, setTokenizerConfig, stories, tokens, work } from '../support/hardening.js';

test('item 10: a chat template looping 10^8 times, or building a huge string, is stopped in bounded time and memory', async () => {
  const loop = '{% for i in range(100000000) %}x{% endfor %}';
  const nested = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}';
  const grow = "{% set s = 'xxxxxxxx' %}{% for i in range(60) %}{% set s = s ~ s %}{% endfor %}{{ s }}";
  for (const t of [loop, nested, grow]) {
    const t0 = Date.now();
    assert.throws(
      () => renderChatTemplate(t, { messages: [] }, { timeMs: 3000, heapMb: 64, maxChars: 1 << 20 }),
      (e: unknown) => e instanceof RetrievalLensError && e.code === 'CHAT_TEMPLATE',
    );
    assert.ok(Date.now() - t0 < 10_000, `stopped after ${Date.now() - t0} ms`);
  }
  assert.equal(
    renderChatTemplate('{{ messages[0].content }}!', { messages: [{ role: 'user', content: 'fine' }] }),
    'fine!',
    'the next render works',
  );
  // Through the CLI, spawned with a bounded heap: inspect does not render; detect stops.
  const dir = copyModel('stories260K', tempDir('rl-item10-'));
  setTokenizerConfig(dir, { chat_template: loop });
  const i = await spawnCli(['inspect', '--model', dir], { timeoutMs: 30_000, heapMb: 256 });
  assert.equal(i.code, 0, i.err);
  assert.ok(i.ms < 20_000 && (i.maxRssMb ?? 0) < 700, `inspect: ${i.ms} ms, ${i.maxRssMb} MB`);
  const d = await spawnCli(['detect', '--model', dir, '--lengths', '200', '--depths', '50'], { timeoutMs: 60_000, heapMb: 256 });
  assertCleanError(d, 1, /chat template cannot be rendered: it (did not finish within 5 s|needed more than 256 MB)/);
  assert.ok(!d.timedOut && (d.maxRssMb ?? 0) < 1000, `detect: ${d.ms} ms, ${d.maxRssMb} MB`);
});

test('item 11: --prompt-file and --haystack refuse /dev/zero, FIFOs, folders and files over the limit, at once', async () => {
  const fifo = join(work, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(work, 'big.txt');
  writeFileSync(big, '');
  truncateSync(big, 70 * 1024 * 1024);
  const bin = join(work, 'binary.bin');
  writeFileSync(bin, Buffer.from([0x41, 0, 0xff, 0xfe, 0x42]));
  for (const [flag, cmd] of [
    ['--prompt-file', 'generate'],
    ['--haystack', 'detect'],
  ]) {
    for (const [path, why] of [
      ['/dev/zero', /it is a device/],
      [fifo, /FIFO/],
      [work, /it is a folder/],
      [big, /more than the/],
      [bin, /not a text file|not UTF-8/],
      [join(work, 'missing.txt'), /no such file/],
    ] as const) {
      const r = await spawnCli([cmd, '--model', stories, flag, path], { timeoutMs: 30_000, heapMb: 256 });
      assertCleanError(r, 1, why);
      assert.ok(!r.timedOut && r.ms < 20_000 && (r.maxRssMb ?? 0) < 500, `${cmd} ${flag} ${path}: ${r.ms} ms, ${r.maxRssMb} MB`);
    }
  }
});

test("item 12: analyze of a reference file with the key '100000-100000' fails in one line, in bounded memory; the extension's parser too", async () => {
  const f = join(work, 'huge-key.json');
  writeFileSync(f, JSON.stringify({ '100000-100000': [0.5], '0-0': [0.1] }));
  const r = await spawnCli(['analyze', f], { timeoutMs: 30_000, heapMb: 256 });
  assertCleanError(r, 1, /layer and head indices must be below 1024/);
  assert.ok((r.maxRssMb ?? 0) < 500, `${r.maxRssMb} MB`);
  assert.throws(() => parseScoresJson(readFileSync(f, 'utf8'), 'huge-key.json'), /below 1024/);
  // Just under the index bound but too many case scores in all.
  const many = JSON.stringify({ '1023-1023': Array(64).fill(0.1) });
  assert.throws(() => parseScoresJson(many, 'many.json'), /more than the \d+ case scores accepted/);
  assert.throws(() => parseScoresJson(JSON.stringify({ '00-1': [1], '0-01': [1], '0-1': [1] }), 'dup.json'), /given twice/);
});

test('item 13: --out into a read-only folder or naming a folder fails before the grid runs; retrieval-head writes both files or neither', async () => {
  const ro = isRoot
    ? '/proc/self'
    : (() => {
        const d = tempDir('rl-item13-ro-');
        chmodSync(d, 0o555);
        return d;
      })();
  for (const out of [join(ro, 'scores.json'), work, join(work, 'missing', 'scores.json')]) {
    const r = await cli(['detect', '--lengths', '256', '--depths', '50', '--out', out]);
    assertCleanError(r, 1, /cannot write/);
    assert.doesNotMatch(r.err, /\[1\//, 'before any case ran');
  }
  // The second file's name is a folder: refused before the run, the first file not written.
  const dir = tempDir('rl-item13-');
  mkdirSync(join(dir, 'scores.retrieval-head.json'));
  const before = snapshot(dir);
  const r = await cli(['detect', '--lengths', '256', '--depths', '50', '--out', join(dir, 'scores.json'), '--format', 'retrieval-head']);
  assertCleanError(r, 1, /scores\.retrieval-head\.json: it is a folder/);
  assertUnchanged(dir, before);
  // A failure between the two renames puts the first file back.
  writeFileSync(join(dir, 'a.json'), 'old a');
  writeFileSync(join(dir, 'b.json'), 'old b');
  const snap = snapshot(dir);
  // The module object the sources call into (a namespace import would only have getters).
  const nodeFs = require('node:fs') as { renameSync: typeof renameSync };
  const rename = nodeFs.renameSync;
  let calls = 0;
  nodeFs.renameSync = (from, to) => {
    if (++calls === 2) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    return rename(from, to);
  };
  try {
    assert.throws(
      () =>
        writeFilesAtomic([
          { path: join(dir, 'a.json'), data: 'new a' },
          { path: join(dir, 'b.json'), data: 'new b' },
        ]),
      /cannot write .*b\.json/,
    );
  } finally {
    nodeFs.renameSync = rename;
  }
  assert.equal(calls, 3, 'a.json renamed into place, b.json failed, a.json put back');
  assertUnchanged(dir, snap, 'after a failed second rename');
});

test('item 14: --out refuses a FIFO, a symlink and a device, keeps the mode of a file it replaces, and --out "" is a usage error', async () => {
  const dir = tempDir('rl-item14-');
  const fifo = join(dir, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  const target = join(dir, 'target.json');
  writeFileSync(target, 'keep me');
  const link = join(dir, 'link.json');
  symlinkSync(target, link);
  const before = snapshot(dir);
  for (const [out, why] of [
    [fifo, /not a regular file/],
    [link, /symbolic link/],
    ['/dev/null', /not a regular file/],
  ] as const) {
    assertCleanError(await cli(['detect', '--lengths', '256', '--depths', '50', '--out', out]), 1, why);
  }
  assertUnchanged(dir, before);
  assertCleanError(await cli(['detect', '--out', '']), 2, /--out needs a value/);
  assertCleanError(await cli(['ablate', '--scores', 'x.json', '--out=']), 2, /--out needs a value/);
  // Replacing a file keeps its mode.
  const out = join(dir, 'scores.json');
  writeFileSync(out, '{}');
  chmodSync(out, 0o640);
  const r = await cli([
    'detect',
    '--lengths',
    '256',
    '--depths',
    '50',
    '--needles-file',
    join(repoRoot, 'data', 'needles.jsonl'),
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(statSync(out).mode & 0o777, 0o640);
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).format, 'retrieval-lens/scores@1');
});

test('item 15: -h anywhere prints help at once; stray arguments are usage errors; --version', async () => {
  for (const args of [
    ['detect', '-h'],
    ['detect', '--lengths', '256', '-h'],
    ['detect', '--bogus', '--help'],
    ['generate', '-h', '--prompt'],
    ['help', 'ablate'],
    ['analyze', 'a.json', '--help'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    assert.match(r.out, /^usage: retrieval-lens/);
    assert.equal(r.err, '', 'no run, no progress');
    assert.ok(r.ms < 2000, `${args.join(' ')} took ${r.ms} ms`);
  }
  for (const args of [
    ['detect', 'foo'],
    ['generate', '--prompt', 'x', 'extra'],
    ['analyze', 'a.json', 'b.json'],
    ['inspect', '-x'],
    ['detect', '--', 'x'],
  ]) {
    assertCleanError(await cli(args), 2, /unexpected argument|unknown option/);
  }
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.out.trim(), `retrieval-lens ${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version}`);
});

test('item 16: a relative owner/name path that does not exist is a missing folder (no network), with how to ask for the Hub', async () => {
  const cwd = process.cwd();
  process.chdir(tempDir('rl-item16-'));
  try {
    const r = await cli(['inspect', '--model', 'someone/some-model']);
    assertCleanError(
      r,
      1,
      /^error: no model folder .*someone\/some-model; to download the Hugging Face Hub model "someone\/some-model", give it as hf:someone\/some-model$/,
    );
  } finally {
    process.chdir(cwd);
  }
});

test("item 17: Hub downloads go to the user's Hugging Face cache, else the fallback (the extension's global storage)", () => {
  const home = tempDir('rl-item17-home-');
  assert.equal(hubDownloadDir('/storage/models', { HF_HOME: '/data/hf' }), join('/data/hf', 'transformers.js'));
  assert.equal(hubDownloadDir('/storage/models', { HF_HUB_CACHE: '/data/hf/hub' }), join('/data/hf', 'transformers.js'));
  assert.equal(hubDownloadDir('/storage/models', { HOME: home }), '/storage/models', 'no Hugging Face cache: the fallback');
  mkdirSync(join(home, '.cache', 'huggingface'), { recursive: true });
  assert.equal(hubDownloadDir('/storage/models', { HOME: home }), join(home, '.cache', 'huggingface', 'transformers.js'));
  assert.ok(!hubDownloadDir('/storage/models', { HOME: home })!.includes('node_modules'));
});

test('item 18: loose values are refused, BOMs accepted, sizes named, summaries checked, undefined correlations said; one exit-code rule', async () => {
  // Ranges: usage errors (2), before any model is loaded.
  for (const args of [
    ['generate', '--prompt', 'x', '--temperature', '-0.5'],
    ['generate', '--prompt', 'x', '--temperature', '1e9'],
    ['generate', '--prompt', 'x', '--temperature', '1', '--top-k', '-1'],
    ['generate', '--prompt', 'x', '--temperature', '1', '--top-k', '2.5'],
    ['generate', '--prompt', 'x', '--temperature', '1', '--top-p', '2'],
    ['generate', '--prompt', 'x', '--top-p', '0.5'],
    ['generate', '--prompt', 'x', '--mask', '1:2,1-2'],
    ['generate', '--prompt', 'x', '--mask', '0:0,0:0'],
    ['detect', '--threshold', '-0.1'],
    ['detect', '--threshold', '1.5'],
    ['detect', '--threshold', 'NaN'],
    ['detect', '--lengths', '256,256'],
    ['detect', '--depths', '-5'],
    ['detect', '--depths', '101'],
    ['detect', '--dtype', 'fp8'],
    ['ablate', '--scores', 'x', '--random-trials', '0'],
    ['analyze', 'x', '--top', '0'],
  ]) {
    // A missing model too: the usage error is found first.
    assertCleanError(await cli(args[0] === 'analyze' ? args : [...args, '--model', '/nonexistent/model']), 2);
  }
  // A needles file with a UTF-8 BOM (and CRLF lines) is read like any other.
  const bom = join(work, 'bom.jsonl');
  writeFileSync(
    bom,
    '\uFEFF' +
      readFileSync(join(repoRoot, 'data', 'needles.jsonl'), 'utf8')
        .split('\n')
        .slice(0, 1)
        .join('\r\n') +
      '\r\n',
  );
  const d = await cli(['detect', '--lengths', '256', '--depths', '50', '--needles-file', bom, '--json']);
  assert.equal(d.code, 0, d.err);
  assert.deepEqual(
    JSON.parse(d.out).cases.map((c: { needleId: string }) => c.needleId),
    ['zorvak-code'],
  );
  // "No room for a haystack" names the needle's size.
  assertCleanError(
    await cli(['detect', '--lengths', '60', '--depths', '50']),
    1,
    /needle "zorvak-code" takes \d+ tokens, the prompt around it \d+ and the answer \d+; this needle needs a length of at least \d+/,
  );
  // analyze checks an embedded summary against the matrix; a constant comparison is undefined, not 0.
  const good = JSON.parse(d.out);
  const tampered = join(work, 'tampered.json');
  writeFileSync(tampered, JSON.stringify({ ...good, scores: good.scores.map((row: number[]) => row.map(() => 0.9)) }));
  assertCleanError(await cli(['analyze', tampered]), 1, /scores\[0\]\[0\] is 0\.9 but the mean of its counted cases is/);
  writeFileSync(tampered, JSON.stringify({ ...good, retrievalHeads: [[0, 0, 1]] }));
  assertCleanError(await cli(['analyze', tampered]), 1, /retrievalHeads .* are not the heads/);
  writeFileSync(tampered, JSON.stringify({ ...good, summary: { ...good.summary, countedCases: 99 } }));
  assertCleanError(await cli(['analyze', tampered]), 1, /summary counts 99 counted/);
  const flat = join(work, 'flat.json');
  writeFileSync(flat, JSON.stringify(Object.fromEntries(Array.from({ length: 4 }, (_, h) => [`0-${h}`, [0]]))));
  const other = join(work, 'other.json');
  writeFileSync(other, JSON.stringify(Object.fromEntries(Array.from({ length: 4 }, (_, h) => [`0-${h}`, [h / 10]]))));
  const c = await cli(['analyze', flat, '--compare', other]);
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /Pearson undefined \(constant scores\), Spearman undefined/);
  assert.equal(JSON.parse((await cli(['analyze', flat, '--compare', other, '--json'])).out).compare.pearson, null);
  // One rule: 2 = how it was called, 1 = what it was given.
  const rule: [string[], number][] = [
    [['bogus'], 2],
    [['detect', '--bogus'], 2],
    [['detect', '--lengths'], 2],
    [['detect', '--lengths', 'x'], 2],
    [['detect', '--format', 'csv'], 2],
    [['detect', '--format', 'retrieval-head'], 2],
    [['generate'], 2],
    [['generate', '--prompt', 'a', '--prompt-file', 'b'], 2],
    [['ablate'], 2],
    [['analyze'], 2],
    [['detect', '--template', 'no placeholders'], 2],
    [['generate', '--model', '/nonexistent/model', '--prompt', 'x'], 1],
    [['generate', '--model', stories, '--prompt', '   '], 1],
    [['detect', '--haystack', '/nonexistent/h.txt'], 1],
    [['detect', '--needles-file', '/nonexistent/n.jsonl'], 1],
    [['ablate', '--scores', '/nonexistent/s.json'], 1],
    [['analyze', '/nonexistent/s.json'], 1],
    [['detect', '--lengths', '999999'], 1],
    [['generate', '--model', stories, '--prompt', 'x', '--mask', '9:0'], 1],
  ];
  for (const [args, code] of rule) assertCleanError(await cli(args), code as 1 | 2);
  const bare = await cli([]);
  assert.equal(bare.code, 2);
  assert.match(bare.err, /^usage: retrieval-lens <command>/);
});
