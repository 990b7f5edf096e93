// The worker protocol end to end: a real forked worker (src/worker/worker.ts under tsx) with the
// bundled model: inspect, cancel mid-generation, and recovery after the process is killed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { WorkerClient, WorkerError } from '../../src/worker/client.js';
import type { ModelRef, JobProgress } from '../../src/worker/protocol.js';
import { bundledModel, repoRoot, sharedDir, tempDir } from '../support/paths.js';

const client = new WorkerClient({ workerPath: join(repoRoot, 'src', 'worker', 'worker.ts'), execArgv: ['--import', 'tsx'] });
after(() => client.dispose());
const model: ModelRef = { spec: bundledModel, cacheDir: tempDir('rl-worker-') };
const essays = join(sharedDir, 'haystack', 'paul-graham-essays');
const text = readFileSync(join(essays, readdirSync(essays).sort()[0]), 'utf8');
const needle = {
  id: 't',
  needle: "Quorbel's lucky number is 7316.",
  question: "What is Quorbel's lucky number?",
  real_needle: "Quorbel's lucky number is 7316.",
};

test('load reports the model shape; countTokens counts without special tokens', async () => {
  const progress: JobProgress[] = [];
  const r = await client.request({ kind: 'load', model }, { onProgress: (p) => progress.push(p) });
  assert.equal(r.info.layers, 6);
  assert.equal(r.info.heads, 8);
  assert.equal(r.attentionNodes, 6);
  assert.ok(progress.some((p) => p.stage === 'load'));
  const c = await client.request({ kind: 'countTokens', model, text: 'hello world' });
  assert.ok(c.tokens >= 2 && c.tokens <= 6, `hello world: ${c.tokens} tokens`);
  assert.equal(c.contextLength, 2048);
});

test('inspect: the needle is retrieved and the prompt maps back to the text', async () => {
  const steps: JobProgress[] = [];
  const r = await client.request(
    { kind: 'inspect', model, text, needle, depth: 50, maxPromptTokens: 400, maxNewTokens: 30, topPositions: 8 },
    { onProgress: (p) => steps.push(p) },
  );
  assert.ok(r.tokens.length <= 400);
  assert.ok(r.answer.includes('7316'), r.answer);
  assert.equal(r.steps.length, steps.filter((p) => p.stage === 'run').length);
  assert.equal(r.steps[0].top.length, 48);
  assert.ok(r.steps[0].top[0].pos instanceof Int32Array, 'typed arrays survive advanced serialization');
  // the needle's tokens spell the needle
  const needleText = r.tokens
    .slice(r.needleSpan[0], r.needleSpan[1])
    .map((t) => t.text)
    .join('');
  assert.ok(needleText.includes(needle.real_needle), JSON.stringify(needleText));
  // the question's tokens spell the question, after the needle (the template asks it at the end)
  const questionText = r.tokens
    .slice(r.questionSpan[0], r.questionSpan[1])
    .map((t) => t.text)
    .join('');
  assert.ok(questionText.includes(needle.question), JSON.stringify(questionText));
  assert.ok(r.questionSpan[0] >= r.needleSpan[1], `question ${r.questionSpan} before the needle ${r.needleSpan}`);
  // every prompt character in a segment is the user's text
  for (const s of r.segments)
    assert.equal(r.prompt.slice(s.promptStart, s.promptEnd), text.slice(s.textStart, s.textStart + s.promptEnd - s.promptStart));
  assert.equal(r.prompt.slice(r.needleChars[0], r.needleChars[1]), needle.needle);
});

test('cancel stops a run and the next request works', async () => {
  const ctrl = new AbortController();
  let seen = 0;
  const run = client.request(
    { kind: 'generate', model, prompt: text.slice(0, 1500), maxNewTokens: 400 },
    {
      signal: ctrl.signal,
      onProgress: (p) => {
        if (p.stage === 'run' && ++seen === 3) ctrl.abort();
      },
    },
  );
  await assert.rejects(run, (e: unknown) => e instanceof WorkerError && e.code === 'CANCELLED');
  assert.ok(seen < 400, `stopped after ${seen} steps`);
  const ok = await client.request({ kind: 'generate', model, prompt: 'Once upon a time', maxNewTokens: 3 });
  assert.equal(ok.tokenIds.length, 3);
});

test('bad input comes back as a coded error', async () => {
  await assert.rejects(
    client.request({ kind: 'inspect', model, text: '   ', needle, depth: 0, maxPromptTokens: 300, maxNewTokens: 5, topPositions: 4 }),
    (e: unknown) => e instanceof WorkerError && e.code === 'EMPTY_INPUT',
  );
  await assert.rejects(
    client.request({ kind: 'load', model: { spec: join(sharedDir, 'haystack') } }),
    (e: unknown) => e instanceof WorkerError && e.code !== 'INTERNAL' && e.code !== 'WORKER_CRASHED',
  );
});

test('a killed worker fails the run with WORKER_CRASHED and the next request starts a new one', async () => {
  const first = client.pid;
  let killed = false;
  const run = client.request(
    { kind: 'generate', model, prompt: text.slice(0, 1500), maxNewTokens: 400 },
    {
      onProgress: (p) => {
        if (p.stage === 'run' && !killed && client.pid) {
          killed = true;
          process.kill(client.pid, 'SIGKILL');
        }
      },
    },
  );
  await assert.rejects(run, (e: unknown) => e instanceof WorkerError && e.code === 'WORKER_CRASHED' && /out of memory/.test(e.message));
  assert.equal(client.crashes, 1);
  const r = await client.request({ kind: 'generate', model, prompt: 'Once upon a time', maxNewTokens: 2 });
  assert.equal(r.tokenIds.length, 2);
  assert.notEqual(client.pid, first);
});
