// Retrieval heads put to work on the organism: a KV-cache policy that keeps only the retrieval
// heads' KV heads whole, DeCoRe decoding, and attribution of an answer to the document's sentences.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import type { LoadedModel } from '../../src/engine/types.js';
import { runDetection } from '../../src/method/detect.js';
import { freshCases } from '../../src/method/ablate.js';
import { runKvWhatif } from '../../src/method/kvWhatif.js';
import { answerText, greedyTokens } from '../../src/method/decoding.js';
import { attribute } from '../../src/method/attributionRun.js';
import { combineSources } from '../../src/method/attribution.js';
import { pickHeads } from '../../src/method/heads.js';
import type { ScoresFile } from '../../src/method/types.js';
import { cli } from '../support/cli.js';
import { bundledModel, repoRoot, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');
const haystack = [readFileSync(join(repoRoot, 'data', 'haystack', 'shakespeare.txt'), 'utf8')];
const dir = tempDir('rl-putwork-');
const scoresPath = join(dir, 'scores.json');
let model: LoadedModel;
let scores: ScoresFile;

const NEEDLE = "Zorvak's secret code is 48213.";
/** Shakespeare with the needle after a sentence in the middle; optionally a Windows file with non-ASCII text first. */
function needleDoc(windows: boolean): string {
  const hay = haystack[0].slice(0, 3000);
  const at = hay.indexOf('.', 1500) + 1;
  const doc = `${hay.slice(0, at)} ${NEEDLE}${hay.slice(at)}`;
  return windows ? `Café “naïve” — ✓ 日本語 😀.\n${doc}`.replace(/\n/g, '\r\n') : doc;
}

before(async () => {
  model = await loadModel(bundledModel, { cacheDir: process.env.RETRIEVAL_LENS_CACHE });
  scores = await runDetection(model, { haystack, lengths: [512], depths: [0, 50, 100] });
  writeFileSync(scoresPath, JSON.stringify(scores));
});
after(() => model?.dispose());

test('kv-whatif: retrieval heads kept whole keep NIAH exact accuracy; as many random KV heads at the same memory lose it', async () => {
  const r = await runKvWhatif(model, scores, { haystack, ks: [3], window: 64, sink: 4, randomTrials: 2, seed: 3, depths: [37.5, 62.5] });
  assert.equal(r.settings.cases, 6);
  const [top, rnd] = r.points;
  assert.equal(top.keep, 'retrieval');
  assert.equal(rnd.keep, 'random');
  // The three retrieval heads (5-0, 5-4, 5-5) sit in two KV heads of layer 5.
  assert.deepEqual(top.keptKvHeads, [
    [5, 0],
    [5, 2],
  ]);
  assert.equal(rnd.kvFraction, top.kvFraction, 'random heads are compared at the same KV memory');
  assert.equal(rnd.trials!.length, 2);
  for (const t of rnd.trials!) assert.ok(t.keptKvHeads.every(([l, k]) => !(l === 5 && (k === 0 || k === 2))));
  assert.ok(Math.abs(top.kvFraction - (2 * 512 + 22 * 68) / (24 * 512)) < 1e-12, `kvFraction ${top.kvFraction}`);
  assert.ok(r.baseline.exact >= 0.8, `whole cache: exact ${r.baseline.exact}`);
  assert.ok(top.exact >= r.baseline.exact - 0.2, `retrieval kept: exact ${top.exact} vs whole cache ${r.baseline.exact}`);
  assert.ok(top.exact >= rnd.exact + 0.5, `retrieval kept ${top.exact} vs random kept ${rnd.exact}`);
  assert.ok(r.windowOnly.exact < top.exact, `window only ${r.windowOnly.exact}`);
});

test('greedy decoding through forked step decoders gives what generate() gives', async () => {
  const { cases, stops } = freshCases(model, scores, { haystack, depths: [50] });
  const c = cases[0];
  const base = model.decoder();
  await base.prefill(c.promptIds.slice(0, -1));
  const viaFork = await greedyTokens(base.fork({}), c.promptIds.at(-1)!, 50, new Set(stops));
  const viaGenerate = await model.generate(c.promptIds, { maxNewTokens: 50, stopTokens: stops });
  assert.deepEqual(viaFork, viaGenerate.tokenIds);
  assert.equal(answerText(model.tokenizer, viaFork, model.info.eosTokenIds), viaGenerate.text);
  assert.throws(() => base.fork({ mask: { heads: [{ layer: 5, head: 0 }], mode: 'zero', scope: 'all' } }), /scope "all" needs a decoder/);
});

test('kv-whatif CLI: the JSON shape and the readable table', async () => {
  const args = [
    'kv-whatif',
    '--model',
    bundledModel,
    '--scores',
    scoresPath,
    '--k',
    '2',
    '--random-trials',
    '1',
    '--depths',
    '50',
    '--window',
    '64',
  ];
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(Object.keys(j).sort(), ['baseline', 'format', 'model', 'points', 'settings', 'windowOnly']);
  assert.deepEqual(Object.keys(j.baseline).sort(), ['accuracy', 'exact', 'kvFraction']);
  assert.equal(j.points.length, 2);
  for (const p of j.points) {
    for (const key of ['keep', 'k', 'window', 'sink', 'kvFraction', 'accuracy', 'exact']) assert.ok(key in p, key);
    assert.deepEqual([p.k, p.window, p.sink], [2, 64, 4]);
  }
  const t = await cli(args);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /whole cache: +KV 100\.0%/);
  assert.match(t.out, /^ +2 +2 +\d+\.\d% +\d\.\d\d \/ \d\.\d\d +\d\.\d\d \/ \d\.\d\d$/m);
  const bad = await cli(['kv-whatif', '--model', bundledModel, '--scores', scoresPath, '--window', '0']);
  assert.equal(bad.code, 2);
});

test('generate --decore: a = 0 is plain greedy; the entropy variant reports a per step and the two models where they differ', async () => {
  const doc = needleDoc(false);
  const prompt = `${doc}\n\nQuestion: What is Zorvak's secret code?\nAnswer:`;
  const common = ['generate', '--model', bundledModel, '--prompt', prompt, '--max-new-tokens', '40', '--json'];
  const plain = JSON.parse((await cli(common)).out);
  for (const extra of [[], ['--mask-scope', 'decode'], ['--mask-mode', 'uniform']]) {
    const r = await cli([...common, '--decore', '--scores', scoresPath, '--decore-alpha', '0', ...extra]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual(j.tokenIds, plain.tokenIds, `a = 0 ${extra.join(' ')}`);
    assert.equal(j.text, plain.text);
  }
  const r = await cli([...common, '--decore', '--scores', scoresPath]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.match(j.text, /48213/);
  assert.deepEqual(
    j.decore.heads,
    scores.retrievalHeads.map(([layer, head]) => ({ layer, head })),
  );
  assert.deepEqual([j.decore.mode, j.decore.scope, j.decore.alpha], ['zero', 'all', 'entropy']);
  assert.equal(j.steps.length, j.tokenIds.length);
  assert.ok(j.steps.every((s: { alpha: number }) => s.alpha >= 0));
  // With its retrieval heads zeroed the organism cannot copy the code: the two models differ there.
  const differ = j.steps.filter((s: { base?: unknown }) => s.base);
  assert.ok(differ.length > 0);
  for (const s of differ) assert.ok(s.masked && typeof s.base.token === 'number' && typeof s.masked.text === 'string');
  const k1 = JSON.parse((await cli([...common, '--decore', '--scores', scoresPath, '--decore-k', '1'])).out);
  assert.deepEqual(k1.decore.heads, [{ layer: scores.retrievalHeads[0][0], head: scores.retrievalHeads[0][1] }]);
  const masked = JSON.parse((await cli([...common, '--decore', '--mask', '5:0,5:4'])).out);
  assert.deepEqual(masked.decore.heads, [
    { layer: 5, head: 0 },
    { layer: 5, head: 4 },
  ]);
  for (const [args, pattern] of [
    [['--decore'], /--decore needs --scores/],
    [['--decore-k', '2'], /give --decore too/],
    [['--decore', '--scores', scoresPath, '--temperature', '1'], /decodes greedily/],
    [['--decore', '--scores', scoresPath, '--mask', '5:0'], /not used with it/],
  ] as const) {
    const e = await cli([...common, ...args]);
    assert.equal(e.code, 2, e.err);
    assert.match(e.err, pattern);
  }
});

for (const windows of [false, true]) {
  test(`attribute${windows ? ' (CRLF, non-ASCII text)' : ''}: the value tokens' top source is the needle sentence`, async () => {
    const doc = needleDoc(windows);
    const r = await attribute(model, doc, "What is Zorvak's secret code?", pickHeads(scores, model.info));
    assert.match(r.answer, /48213/);
    assert.equal(r.contextChars, doc.length);
    assert.equal(r.tokens.map((t) => t.text).join(''), r.answer);
    const at = doc.indexOf(NEEDLE);
    // The value's tokens: those that spell "48213" in the answer (it may run on after the sentence).
    const code = r.answer.indexOf('48213');
    let pos = 0;
    const value = r.tokens.filter((t) => {
      const inCode = pos >= code && pos < code + 5;
      pos += t.text.length;
      return inCode;
    });
    assert.equal(value.length, 5, JSON.stringify(r.tokens.map((t) => t.text)));
    // The value as a whole reads the needle sentence, with most of its retrieval attention.
    const [best] = combineSources(value, 3);
    assert.deepEqual([best.start, best.end], [at, at + NEEDLE.length]);
    assert.equal(doc.slice(best.start, best.end), NEEDLE);
    assert.ok(best.weight > 0.6, `weight ${best.weight}`);
    // Token by token too: on the plain text every digit; with a line of emoji and CJK bytes before
    // it, one digit's heads also look at that line's byte tokens.
    const onNeedle = value.filter((t) => t.sources[0].start === at && t.sources[0].end === at + NEEDLE.length);
    assert.ok(onNeedle.length >= (windows ? 4 : 5), JSON.stringify(value));
    for (const t of value) {
      assert.ok(t.contextShare > 0.5, `token ${t.text}: ${JSON.stringify(t)}`);
      for (let i = 1; i < t.sources.length; i++) assert.ok(t.sources[i].weight <= t.sources[i - 1].weight, 'best first');
    }
    assert.ok(r.grounding.score > 0.5 && !r.grounding.low, JSON.stringify(r.grounding));
  });
}

test('attribute CLI: JSON shape, offsets into the file as read, a cut document and bad input', async () => {
  const file = join(dir, 'doc.txt');
  writeFileSync(file, '\uFEFF' + needleDoc(true));
  const args = [
    'attribute',
    '--model',
    bundledModel,
    '--context-file',
    file,
    '--question',
    "What is Zorvak's secret code?",
    '--scores',
    scoresPath,
  ];
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  for (const key of ['answer', 'tokens', 'grounding', 'sources']) assert.ok(key in j, key);
  assert.equal(j.offsets, 'utf16');
  const text = needleDoc(true); // the file as read: the BOM dropped
  // The whole answer: the name and attribute words read mostly the question and the passage's end,
  // the value the needle sentence; the needle is among the answer's top sources.
  assert.ok(
    j.sources.some((s: { start: number; end: number }) => text.slice(s.start, s.end) === NEEDLE),
    JSON.stringify(j.sources),
  );
  const digit = j.tokens.find((t: { text: string }) => t.text === '4');
  assert.equal(text.slice(digit.sources[0].start, digit.sources[0].end), NEEDLE);
  const t = await cli(args);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /^grounding: \d\.\d\d/m);
  assert.match(t.out, /"4" +\d\.\d\d +\d\.\d\d \[\d+, \d+\) "Zorvak's secret code is 48213\."/);
  // A document longer than the context is cut, with a warning.
  const long = join(dir, 'long.txt');
  writeFileSync(long, needleDoc(false) + haystack[0].slice(0, 20000));
  const c = await cli([
    'attribute',
    '--model',
    bundledModel,
    '--context-file',
    long,
    '--question',
    "What is Zorvak's secret code?",
    '--scores',
    scoresPath,
    '--json',
    '--max-new-tokens',
    '8',
  ]);
  assert.equal(c.code, 0, c.err);
  assert.match(c.err, /warning: the document was cut to its first \d+ of \d+ characters/);
  assert.ok(JSON.parse(c.out).contextChars < 23000);
  const missing = await cli(['attribute', '--model', bundledModel, '--context-file', file, '--scores', scoresPath]);
  assert.equal(missing.code, 2);
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, ' \n');
  const e = await cli(['attribute', '--model', bundledModel, '--context-file', empty, '--question', 'Q?', '--scores', scoresPath]);
  assert.equal(e.code, 1);
  assert.match(e.err, /^error: --context-file .* is empty$/m);
});
