// `retrieval-lens inspect` and `generate` on the real models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import { bundledModel, sharedModel, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), signal: new AbortController().signal });
  return { code, out, err };
}

const HAYSTACK =
  'The old ship sailed along the coast for many days. The sailors sang songs at night and mended their nets. ' +
  "Zorvak's secret code is 48213. The captain wrote in his book every evening and watched the stars. " +
  'When the wind was strong the sails were full and the ship was fast.';

test('inspect --json reports the organism architecture and its six attention nodes', async () => {
  const r = await cli(['inspect', '--model', bundledModel, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.architecture, 'llama');
  assert.deepEqual([j.layers, j.heads, j.kvHeads, j.headDim, j.contextLength], [6, 8, 4, 32, 2048]);
  assert.equal(j.groupedQueryAttention, true);
  assert.equal(j.attentionNodes.length, 6);
  assert.deepEqual(
    j.attentionNodes.map((a: { layer: number }) => a.layer),
    [0, 1, 2, 3, 4, 5],
  );
  assert.match(j.instrumentedGraph, /instrumented/);
});

test('generate answers a needle question and some head attends the answer tokens', async () => {
  const prompt = `${HAYSTACK}\n\nQuestion: What is Zorvak's secret code?\nAnswer:`;
  const r = await cli(['generate', '--model', bundledModel, '--prompt', prompt, '--max-new-tokens', '40', '--attention', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.match(j.text, /48213/);
  assert.equal(j.tokenIds.length, j.steps.length);
  // Copying: at some step that generates a digit of the code, some head's argmax is a prompt
  // position holding that same token, inside the needle sentence (not the question).
  const ids: number[] = j.promptTokenIds;
  const questionStart = ids.length - 20;
  const copied = j.steps.some(
    (s: { argmax: number[][]; text: string; token: number }) =>
      /\d/.test(s.text) && s.argmax.some((layer) => layer.some((pos) => pos < questionStart && ids[pos] === s.token)),
  );
  assert.ok(copied, 'a head attends the needle token that is being copied');
  for (const s of j.steps) {
    assert.equal(s.argmax.length, 6);
    assert.equal(s.argmax[0].length, 8);
  }
});

test('masking changes the answer only when heads are masked', async () => {
  const prompt = `${HAYSTACK}\n\nQuestion: What is Zorvak's secret code?\nAnswer:`;
  const base = JSON.parse((await cli(['generate', '--model', bundledModel, '--prompt', prompt, '--max-new-tokens', '20', '--json'])).out);
  const again = JSON.parse(
    (await cli(['generate', '--model', bundledModel, '--prompt', prompt, '--max-new-tokens', '20', '--json', '--mask', ''])).out,
  );
  assert.deepEqual(again.tokenIds, base.tokenIds);
  const allLast = Array.from({ length: 8 }, (_, h) => `5:${h}`).join(',');
  const masked = JSON.parse(
    (await cli(['generate', '--model', bundledModel, '--prompt', prompt, '--max-new-tokens', '20', '--json', '--mask', allLast])).out,
  );
  assert.notDeepEqual(masked.tokenIds, base.tokenIds);
  assert.deepEqual(masked.mask, { heads: Array.from({ length: 8 }, (_, head) => ({ layer: 5, head })), mode: 'uniform', scope: 'decode' });
});

test('generate on stories260K writes a story, greedy and sampled with a seed', async () => {
  const greedy = await cli(['generate', '--model', sharedModel('stories260K'), '--prompt', 'Once upon a time', '--max-new-tokens', '20']);
  assert.equal(greedy.code, 0, greedy.err);
  assert.ok(greedy.out.trim().length > 10);
  // The same seed twice: the same sample.
  const sampled = [
    'generate',
    '--model',
    sharedModel('stories260K'),
    '--prompt',
    'Once upon a time',
    '--max-new-tokens',
    '20',
    '--temperature',
    '1',
    '--seed',
    '7',
    '--json',
  ];
  const s1 = await cli(sampled);
  const s2 = await cli(sampled);
  assert.deepEqual(JSON.parse(s1.out).tokenIds, JSON.parse(s2.out).tokenIds);
});
