// Items 1-9 of the hardening issue (10-18: hardening-io.test.ts). The hardening issue, one test (or more) per numbered item: bad models, files, flags and texts
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
import { bundledModel, repoRoot, sharedModel, tempDir } from '../support/paths.js';
import { cache, gen, organism, setConfig, setTokenizerConfig, stories, tokens, work } from '../support/hardening.js';

test('item 1: a wrong config.json does not poison the cache: the right folder still works, from the cache', async () => {
  const good = copyModel('stories260K', tempDir('rl-item1-'));
  const first = await cli(gen(good));
  assert.equal(first.code, 0, first.err);
  const want = tokens(first.out);
  // The same ONNX bytes under a config whose head count is wrong (it builds a graph, then fails the probe).
  const bad = copyModel('stories260K', tempDir('rl-item1-bad-'));
  setConfig(bad, { num_attention_heads: 4, head_dim: 8 });
  assertCleanError(await cli(gen(bad)), 1, /config says 4 attention heads per layer .* the config does not describe this graph/);
  setConfig(bad, { num_attention_heads: 16, head_dim: 8 });
  assertCleanError(await cli(gen(bad)), 1, /config/);
  const again = await cli(gen(good));
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(tokens(again.out), want);
  const info = JSON.parse((await cli(['inspect', '--model', good, '--json'])).out);
  assert.equal(info.fromCache, true, 'the right folder runs from its own cache entry');
});

test('item 2: a tampered, truncated or half-written cache entry is rebuilt, never trusted or fatal', async () => {
  const c = tempDir('rl-item2-cache-');
  const env = { RETRIEVAL_LENS_CACHE: c };
  const run = async () => {
    const before = process.env.RETRIEVAL_LENS_CACHE;
    process.env.RETRIEVAL_LENS_CACHE = c;
    try {
      return await cli(gen(stories));
    } finally {
      process.env.RETRIEVAL_LENS_CACHE = before;
    }
  };
  const first = await run();
  assert.equal(first.code, 0, first.err);
  const want = tokens(first.out);
  const [entry] = readdirSync(join(c, 'instrumented'));
  const graph = join(c, 'instrumented', entry, 'model.onnx');
  const meta = join(c, 'instrumented', entry, 'meta.json');
  const damage: [string, () => void][] = [
    ['1 KB of the cached graph overwritten', () => writeFileSync(graph, Buffer.from(readFileSync(graph)).fill(0, 4000, 5024))],
    ['the cached graph truncated', () => truncateSync(graph, 1000)],
    ['the cached graph emptied', () => writeFileSync(graph, '')],
    ['the meta file truncated', () => writeFileSync(meta, readFileSync(meta, 'utf8').slice(0, 50))],
    ['the meta file incomplete', () => writeFileSync(meta, '{"version": 1}')],
    ['the meta file not JSON', () => writeFileSync(meta, Buffer.from([0, 1, 2, 0xff]))],
    [
      'the graph a folder',
      () => {
        rmSync(graph);
        mkdirSync(graph);
      },
    ],
    [
      'the entry a file',
      () => {
        rmSync(join(c, 'instrumented', entry), { recursive: true });
        writeFileSync(join(c, 'instrumented', entry), 'x');
      },
    ],
  ];
  for (const [what, harm] of damage) {
    harm();
    const r = await run();
    assert.equal(r.code, 0, `${what}: ${r.err}`);
    assertNoStack(r);
    assert.deepEqual(tokens(r.out), want, `${what}: the same answer, not garbage`);
    assert.ok(statSync(graph).isFile(), `${what}: rebuilt`);
  }
  // Spawned too: the rebuilt entry verifies and is used.
  const r = await spawnCli(['inspect', '--model', stories, '--json'], { env });
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).fromCache, true);
});

test('item 3: templates are filled in one pass: a haystack or document holding "{question}", a template with {context} twice', async () => {
  const context = 'The note said {question} and {context}.';
  assert.equal(fillTemplate('{context}\nQ: {question}\nA:', { context, question: 'Why?' }), `${context}\nQ: Why?\nA:`);
  assert.equal(fillTemplate('{context}|{context}|{question}', { context: 'c', question: 'q' }), 'c|c|q');
  // The extension's prompt over the user's own document.
  const needle = { id: 'n', needle: 'Zorvak likes tea.', question: 'What does Zorvak like?', real_needle: 'Zorvak likes tea.' };
  const doc = 'First {question} line. Second {context} line. Third line.';
  const b = buildPrompt('{context}\n\nQuestion: {question}\nAnswer: {context}', doc, doc.length, needle, 50);
  assert.equal(b.prompt.split('What does Zorvak like?').length, 2, 'the question once, where the template puts it');
  assert.equal(b.prompt.split('{question}').length, 3, "the document's own {question} twice, untouched (two copies of the context)");
  for (const s of b.segments)
    assert.equal(b.prompt.slice(s.promptStart, s.promptEnd), doc.slice(s.textStart, s.textStart + s.promptEnd - s.promptStart));
  assert.equal(b.prompt.slice(b.needleChars[0], b.needleChars[1]), needle.needle);
  // Detection over a haystack full of placeholders still retrieves the needle.
  const hay = join(work, 'placeholders.txt');
  writeFileSync(
    hay,
    readFileSync(join(repoRoot, 'data', 'haystack', 'shakespeare.txt'), 'utf8')
      .slice(0, 20000)
      .replace(/\. /g, '. {question} {context} '),
  );
  const r = await cli(['detect', '--lengths', '256', '--depths', '50', '--haystack', hay, '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.ok(
    s.cases.every((c: { response: string }) => c.response.length > 0),
    'no empty answers',
  );
  assert.ok(
    s.summary.countedCases >= 2,
    `the organism still retrieves: ${s.cases.map((c: { response: string }) => c.response).join(' | ')}`,
  );
});

test('item 4: a needle at depth 50% in a text without sentence ends lands near 50%, and every case records where it went', async () => {
  const words = join(work, 'no-periods.txt');
  writeFileSync(words, Array.from({ length: 3000 }, (_, i) => ['river', 'stone', 'lantern', 'meadow', 'copper'][i % 5]).join(' '));
  const r = await cli([
    'detect',
    '--lengths',
    '256',
    '--depths',
    '50',
    '--haystack',
    words,
    '--needles-file',
    join(repoRoot, 'data', 'needles.jsonl'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  for (const c of s.cases) {
    assert.equal(c.depth, 50);
    assert.ok(Math.abs(c.needleDepth - 50) <= 1, `needle at ${c.needleDepth}%, not at 0%`);
  }
  // One sentence end, late in the text: the needle goes there, and the case says so.
  const late = join(work, 'late-period.txt');
  writeFileSync(late, `${'river stone lantern meadow '.repeat(8)}The end. ${'copper '.repeat(300)}`);
  const l = JSON.parse((await cli(['detect', '--lengths', '256', '--depths', '25', '--haystack', late, '--json'])).out);
  for (const c of l.cases) assert.ok(c.needleDepth > 25, `recorded ${c.needleDepth}% for the grid's 25%`);
});

test('item 5: generate --max-new-tokens 0, -1, empty, and top-p -1 with temperature 1 are usage errors', async () => {
  for (const extra of [
    ['--max-new-tokens', '0'],
    ['--max-new-tokens', '-1'],
    ['--max-new-tokens', ''],
    ['--max-new-tokens=abc'],
    ['--temperature', '1', '--top-p', '-1'],
    ['--temperature', '1', '--top-p', '0'],
    ['--temperature', '1', '--top-p', '1.5'],
  ]) {
    const r = await cli(['generate', '--model', stories, '--prompt', 'Hi', ...extra]);
    assertCleanError(r, 2, /--(max-new-tokens|top-p)/);
  }
  // The engine refuses the same values from any caller (the extension's worker).
  const m = await loadModel(stories);
  try {
    const ids = m.tokenizer.encode('Hi');
    for (const opts of [
      { maxNewTokens: 0 },
      { maxNewTokens: -1 },
      { maxNewTokens: 1.5 },
      { sampling: { temperature: 1, topP: -1 } },
      { sampling: { temperature: -1 } },
      { sampling: { temperature: 1, topK: -3 } },
    ]) {
      await assert.rejects(m.generate(ids, opts), (e: unknown) => e instanceof RetrievalLensError && e.code === 'BAD_INPUT');
    }
    assert.equal(m.tokenizer.decode([]), '', 'no tokens decode to no text');
  } finally {
    await m.dispose();
  }
});

test('item 6: a config.json that disagrees with the graph (KV heads, head dim, query heads) is one CONFIG_MISMATCH line, also for inspect', async () => {
  for (const name of ['needle-organism', 'stories260K'] as const) {
    const truth = JSON.parse(readFileSync(join(sharedModel(name), 'config.json'), 'utf8'));
    for (const patch of [
      { num_key_value_heads: truth.num_key_value_heads * 2 },
      { num_key_value_heads: truth.num_key_value_heads / 2 },
      { head_dim: truth.head_dim * 2 },
      { num_attention_heads: truth.num_attention_heads * 2 },
      { num_attention_heads: truth.num_attention_heads / 2 },
    ]) {
      const dir = copyModel(name, tempDir('rl-item6-'));
      setConfig(dir, patch);
      const r = await cli(['inspect', '--model', dir, '--json']);
      assertCleanError(r, 1, /config (says|does not describe)|not a multiple/);
      assert.equal(r.out, '', `${name} ${JSON.stringify(patch)}: no report of the config's wrong sizes`);
    }
  }
  // Spawned: onnxruntime's own error log does not add lines to the one error line.
  const dir = copyModel('stories260K', tempDir('rl-item6-'));
  setConfig(dir, { num_attention_heads: 4 });
  const r = await spawnCli(['inspect', '--model', dir]);
  assertCleanError(r, 1, /config says 4 attention heads/);
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
});

test('item 7: an unusable cache folder, an empty RETRIEVAL_LENS_CACHE, HOME unset, empty, missing or unwritable: one warning line and the run goes on', async () => {
  const cwd = tempDir('rl-item7-cwd-');
  const aFile = join(cwd, '..', `rl-item7-file-${process.pid}`);
  writeFileSync(aFile, 'x');
  const home = tempDir('rl-item7-home-');
  const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['RETRIEVAL_LENS_CACHE names a file', { RETRIEVAL_LENS_CACHE: aFile }, /warning: cannot write the cache folder .* kept in memory only/],
    ['RETRIEVAL_LENS_CACHE under /proc', { RETRIEVAL_LENS_CACHE: '/proc/self/rl-cache' }, /warning: cannot write the cache folder/],
    ['HOME empty', { RETRIEVAL_LENS_CACHE: '', XDG_CACHE_HOME: '', HOME: '' }, /warning: no cache folder \(HOME is not set/],
    ['HOME missing', { RETRIEVAL_LENS_CACHE: '', XDG_CACHE_HOME: '', HOME: join(cwd, 'no-such-home') }, /warning: no cache folder/],
    ['HOME relative', { RETRIEVAL_LENS_CACHE: '', XDG_CACHE_HOME: '', HOME: 'relative-home' }, /warning: no cache folder/],
    [
      'HOME unwritable',
      { RETRIEVAL_LENS_CACHE: '', XDG_CACHE_HOME: '', HOME: '/proc/self' },
      /warning: cannot write the cache folder \/proc\/self\/\.cache/,
    ],
  ];
  for (const [what, env, warning] of cases) {
    const r = await spawnCli(['generate', '--model', stories, '--prompt', 'Once upon a time', '--max-new-tokens', '3'], {
      env,
      cwd,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, `${what}: ${r.err}`);
    assert.ok(!r.timedOut, what);
    assert.match(r.err, warning, what);
    assert.equal(r.err.trim().split('\n').length, 1, `${what}: one line: ${r.err}`);
    assert.ok(r.out.trim().length > 0, `${what}: the run went on`);
    assert.deepEqual(readdirSync(cwd), [], `${what}: nothing written into the current folder`);
  }
  assert.ok(!existsSync(join(cwd, 'no-such-home')), 'a missing HOME is not created');
  // An empty RETRIEVAL_LENS_CACHE is unset: the cache goes under HOME, nothing into the current folder.
  const r = await spawnCli(['generate', '--model', stories, '--prompt', 'Hi', '--max-new-tokens', '2'], {
    env: { RETRIEVAL_LENS_CACHE: '', XDG_CACHE_HOME: '', HOME: home },
    cwd,
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  assert.ok(existsSync(join(home, '.cache', 'retrieval-lens', 'instrumented')));
  assert.deepEqual(readdirSync(cwd), []);
  // HOME unset altogether: the user's home from the password database, or the in-memory fallback.
  const unset = { ...process.env };
  delete unset.HOME;
  delete unset.RETRIEVAL_LENS_CACHE;
  const u = await spawnCli(['generate', '--model', stories, '--prompt', 'Hi', '--max-new-tokens', '2'], {
    env: { HOME: undefined, RETRIEVAL_LENS_CACHE: undefined, XDG_CACHE_HOME: join(cwd, '..', `rl-item7-xdg-${process.pid}`) },
    cwd,
  });
  assert.equal(u.code, 0, u.err);
  assertNoStack(u);
});

test('item 8: a chat template that raises or does not parse: loads fine, and fails in one line only where it is rendered', async () => {
  for (const [what, template, message] of [
    [
      'raises',
      "{{ raise_exception('Conversation roles must alternate') }}",
      /chat template cannot be rendered: Conversation roles must alternate/,
    ],
    ['has a syntax error', '{% for m in messages %}{{ m.content ', /chat template cannot be rendered: /],
    ['calls what does not exist', '{{ messages[0].content.nothing() }}', /chat template cannot be rendered: /],
  ] as const) {
    const dir = copyModel('stories260K', tempDir('rl-item8-'));
    setTokenizerConfig(dir, { chat_template: template });
    const i = await cli(['inspect', '--model', dir, '--json']);
    assert.equal(i.code, 0, `${what}: inspect renders nothing: ${i.err}`);
    assert.equal(JSON.parse(i.out).chatTemplate, true);
    assert.equal(
      (await cli(['generate', '--model', dir, '--prompt', 'Hi', '--max-new-tokens', '2'])).code,
      0,
      `${what}: generate needs no template`,
    );
    assertCleanError(await cli(['detect', '--model', dir, '--lengths', '200', '--depths', '50', '--max-new-tokens', '3']), 1, message);
    // retrieval-lens.json supplies the template: the chat template is never rendered.
    writeFileSync(join(dir, 'retrieval-lens.json'), JSON.stringify({ template: '{context}\nQuestion: {question}\nAnswer:' }));
    const d = await cli(['detect', '--model', dir, '--lengths', '200', '--depths', '50', '--max-new-tokens', '3', '--json']);
    assert.equal(d.code, 0, `${what} with retrieval-lens.json: ${d.err}`);
  }
});

test('item 9: ablate with a scores file whose settings are missing or null', async () => {
  const base = summarize({ id: 'm', layers: 6, heads: 8 }, { lengths: [256], depths: [0, 50], needles: ['zorvak-code'], threshold: 0.1 }, [
    {
      length: 256,
      depth: 0,
      needleId: 'zorvak-code',
      promptTokens: 200,
      span: [1, 5],
      success: true,
      rougeRecall: 1,
      response: 'x',
      question: 'q',
      scores: Array.from({ length: 6 }, (_, l) => Array.from({ length: 8 }, (_, h) => (l === 5 && h < 3 ? 0.5 : 0))),
    },
  ]);
  for (const settings of [undefined, null]) {
    const f = join(work, `settings-${settings}.json`);
    writeFileSync(f, JSON.stringify({ ...base, settings }));
    assertCleanError(await cli(['ablate', '--scores', f, '--k', '1', '--random-trials', '1']), 1, /does not say which context lengths/);
    const r = await cli(['ablate', '--scores', f, '--k', '1', '--random-trials', '1', '--lengths', '256', '--depths', '50', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).results[0].k, 1);
  }
  const wrong = join(work, 'settings-wrong.json');
  writeFileSync(wrong, JSON.stringify({ ...base, settings: { lengths: 'all' } }));
  assertCleanError(await cli(['ablate', '--scores', wrong]), 1, /settings\.lengths is not a list of positive integers/);
  writeFileSync(wrong, JSON.stringify({ ...base, settings: [1, 2] }));
  assertCleanError(await cli(['ablate', '--scores', wrong]), 1, /"settings" is not an object/);
});
