// Detection and ablation on the needle organism, through the CLI commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { sharedModel, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');
const dir = tempDir('rl-detect-');

async function cli(args: string[], signal = new AbortController().signal) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), signal });
  return { code, out, err };
}

test('detect finds the organism retrieval heads and writes both formats', async () => {
  const out = join(dir, 'scores.json');
  const r = await cli(['detect', '--lengths', '256', '--depths', '0,50,100', '--out', out, '--format', 'retrieval-head']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /\[9\/9\] 100%/);
  const s = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(s.format, 'retrieval-lens/scores@1');
  assert.deepEqual([s.model.layers, s.model.heads], [6, 8]);
  assert.equal(s.cases.length, 9);
  assert.ok(s.summary.countedCases >= 6, `counted ${s.summary.countedCases}`);
  assert.ok(s.retrievalHeads.length >= 1 && s.retrievalHeads.length <= 6, JSON.stringify(s.retrievalHeads));
  assert.ok(s.retrievalHeads.every(([, , v]: number[]) => v >= 0.1));
  // The organism's copying heads live in its last layer (its model card: 5-4, 5-0, 5-5).
  assert.equal(s.retrievalHeads[0][0], 5);
  const ref = JSON.parse(readFileSync(join(dir, 'scores.retrieval-head.json'), 'utf8'));
  assert.equal(Object.keys(ref).length, 48);
  assert.equal(ref['5-5'].length, s.summary.countedCases);
  const an = await cli(['analyze', out, '--json']);
  const j = JSON.parse(an.out);
  assert.equal(j.cases, s.summary.countedCases);
  assert.deepEqual(j.top[0], s.retrievalHeads[0]);
});

test('ablate: masking the top heads hurts more than masking random non-retrieval heads', async () => {
  const scores = join(dir, 'scores.json');
  assert.ok(existsSync(scores));
  const out = join(dir, 'ablation.json');
  const r = await cli([
    'ablate',
    '--scores',
    scores,
    '--k',
    '3',
    '--random-trials',
    '2',
    '--lengths',
    '256',
    '--mask-mode',
    'zero',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.err);
  const a = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(a.format, 'retrieval-lens/ablation@1');
  assert.equal(a.results.length, 1);
  const row = a.results[0];
  const retrieval = new Set(JSON.parse(readFileSync(scores, 'utf8')).retrievalHeads.map(([l, h]: number[]) => `${l}:${h}`));
  for (const trial of row.randomHeads)
    for (const h of trial) assert.ok(!retrieval.has(`${h.layer}:${h.head}`), 'random heads exclude retrieval heads');
  assert.ok(a.baseline >= 0.75, `baseline ${a.baseline}`);
  const randomMean = row.random.reduce((x: number, y: number) => x + y, 0) / row.random.length;
  assert.ok(row.top < randomMean, `top-3 ${row.top} vs random ${randomMean}`);
  const randomExact = row.randomExact.reduce((x: number, y: number) => x + y, 0) / row.randomExact.length;
  assert.ok(row.topExact < randomExact, `exact: top-3 ${row.topExact} vs random ${randomExact}`);
});

test('the bundled organism answers exactly at 1,024 and 2,048 tokens, where the first organism fails', async () => {
  const needles = join(dir, 'one-needle.jsonl');
  (await import('node:fs')).writeFileSync(
    needles,
    JSON.stringify({
      id: 'zorvak',
      needle: "Zorvak's secret code is 48213.",
      question: "What is Zorvak's secret code?",
      real_needle: "Zorvak's secret code is 48213.",
    }) + '\n',
  );
  const exact = async (model?: string) => {
    const r = await cli([
      'detect',
      ...(model ? ['--model', model] : []),
      '--lengths',
      '1024,2048',
      '--depths',
      '50',
      '--needles-file',
      needles,
      '--json',
    ]);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out);
    assert.deepEqual(
      s.cases.map((c: { length: number }) => c.length),
      [1024, 2048],
    );
    return s.cases.map((c: { length: number; response: string }) => ({
      length: c.length,
      exact: c.response.includes("Zorvak's secret code is 48213."),
      response: c.response,
    }));
  };
  const bundled = await exact();
  assert.ok(
    bundled.every((c: { exact: boolean }) => c.exact),
    `bundled model: ${JSON.stringify(bundled)}`,
  );
  const first = await exact(sharedModel('needle-organism'));
  assert.ok(
    first.every((c: { exact: boolean }) => !c.exact),
    `first organism: ${JSON.stringify(first)}`,
  );
});

test('detect stops on cancel, exits 130 and writes nothing', async () => {
  const out = join(dir, 'cancelled.json');
  const ctrl = new AbortController();
  const pending = cli(['detect', '--lengths', '256,512', '--out', out], ctrl.signal);
  setTimeout(() => ctrl.abort(), 1500);
  const r = await pending;
  assert.equal(r.code, 130);
  assert.match(r.err, /cancelled; nothing was written/);
  assert.equal(existsSync(out), false);
});

test('detect refuses lengths beyond the model context and an empty haystack', async () => {
  const r = await cli(['detect', '--lengths', '4096']);
  assert.equal(r.code, 1);
  assert.match(r.err, /error: context length\(s\) 4096 exceed the model's context of 2048 tokens/);
  const empty = join(dir, 'empty.txt');
  (await import('node:fs')).writeFileSync(empty, '  \n');
  const e = await cli(['detect', '--lengths', '256', '--haystack', empty]);
  assert.equal(e.code, 1);
  assert.match(e.err, /error: the haystack is empty/);
});

test('detect options: --needles-file, --template, --json; bad options fail before the run', async () => {
  const needles = join(dir, 'needles.jsonl');
  (await import('node:fs')).writeFileSync(
    needles,
    [
      {
        id: 'a',
        needle: "Brakkon's secret code is 90417.",
        question: "What is Brakkon's secret code?",
        real_needle: "Brakkon's secret code is 90417.",
      },
      {
        needle: "Sivella's lucky number is 3382.",
        question: "What is Sivella's lucky number?",
        real_needle: "Sivella's lucky number is 3382.",
      },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n'),
  );
  const template = '{context}\n\nQuestion: {question}\nAnswer:';
  const r = await cli([
    'detect',
    '--lengths',
    '256',
    '--depths',
    '50',
    '--needles-file',
    needles,
    '--template',
    template,
    '--max-new-tokens',
    '40',
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /1 lengths x 1 depths x 2 needles = 2 cases/);
  const s = JSON.parse(r.out);
  assert.deepEqual(
    s.cases.map((c: { needleId: string }) => c.needleId),
    ['a', 'needle-2'],
  );
  assert.equal(s.settings.template, template);
  assert.equal(s.settings.maxNewTokens, 40);
  for (const c of s.cases) {
    assert.equal(c.scores.length, 6);
    assert.ok(c.span[1] > c.span[0] && c.promptTokens <= 256);
    assert.ok(c.response.length > 0);
  }
  assert.ok(
    s.scores.flat().some((v: number) => v > 0),
    'some head scores above 0',
  );

  const bad = await cli(['detect', '--lengths', '256', '--out', join(dir, 'missing', 'x.json')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /error: cannot write .*missing.*does not exist/);
  assert.doesNotMatch(bad.err, /\[1\//, 'failed before any case ran');
  const fmt = await cli(['detect', '--format', 'retrieval-head']);
  assert.equal(fmt.code, 2);
  assert.match(fmt.err, /give --out too/);
  // A flag value out of range or of the wrong shape is a usage error (exit 2), like a missing --out (item 18).
  const mnt = await cli(['detect', '--lengths', '256', '--max-new-tokens', '0']);
  assert.equal(mnt.code, 2);
  assert.match(mnt.err, /--max-new-tokens must be an integer >= 1/);
  const tpl = await cli(['detect', '--lengths', '256', '--template', 'no placeholders']);
  assert.equal(tpl.code, 2);
  assert.match(tpl.err, /must contain \{context\} and \{question\}/);
});
