// Bad input gives a specific one-line error and a non-zero exit, never a bare stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { onnx } from '../../src/engine/graph.js';
import { repoRoot, sharedModel, tempDir } from '../support/paths.js';

process.env.RETRIEVAL_LENS_CACHE = tempDir('rl-cache-');

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), signal: new AbortController().signal });
  return { code, out, err };
}

function copyModel(name: 'needle-organism' | 'stories260K'): string {
  const dir = join(tempDir('rl-model-'), name);
  cpSync(sharedModel(name), dir, { recursive: true });
  return dir;
}

function assertCleanError(r: { code: number; err: string }, pattern: RegExp) {
  assert.notEqual(r.code, 0);
  assert.match(r.err, /^error: /);
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

test('a truncated ONNX file is reported as corrupt', async () => {
  const dir = copyModel('stories260K');
  const f = join(dir, 'onnx', 'model.onnx');
  const buf = readFileSync(f);
  writeFileSync(f, buf.subarray(0, Math.floor(buf.length / 2)));
  assertCleanError(await cli(['inspect', '--model', dir]), /corrupt or truncated/);
});

test('a file that is not ONNX at all is reported as corrupt', async () => {
  const dir = copyModel('stories260K');
  writeFileSync(join(dir, 'onnx', 'model.onnx'), 'this is not a protobuf, just some text\n'.repeat(50));
  assertCleanError(await cli(['inspect', '--model', dir]), /corrupt|truncated|no graph/);
});

test('a folder without tokenizer.json names the missing tokenizer', async () => {
  const dir = copyModel('stories260K');
  rmSync(join(dir, 'tokenizer.json'));
  assertCleanError(await cli(['inspect', '--model', dir]), /no tokenizer\.json/);
});

test('a folder that is not a model says so', async () => {
  const dir = tempDir('rl-empty-');
  mkdirSync(join(dir, 'onnx'));
  assertCleanError(await cli(['inspect', '--model', dir]), /not a model folder \(no config\.json or genai_config\.json\)/);
});

test('a graph whose attention op exposes no probabilities names the op and the supported forms; nothing is cached', async () => {
  const dir = copyModel('stories260K');
  const f = join(dir, 'onnx', 'model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(f));
  const g = model.graph!;
  // Replace layer 0's Softmax with a com.microsoft.Attention node (packed weights), which has no probability output.
  const i = g.node!.findIndex((n) => n.opType === 'Softmax');
  g.node![i] = onnx.NodeProto.create({
    opType: 'Attention',
    domain: 'com.microsoft',
    name: '/layers.0/attn/Attention',
    input: g.node![i].input,
    output: g.node![i].output,
  });
  model.opsetImport!.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
  writeFileSync(f, onnx.ModelProto.encode(model).finish());
  const cache = tempDir('rl-cache-refused-');
  const before = process.env.RETRIEVAL_LENS_CACHE;
  process.env.RETRIEVAL_LENS_CACHE = cache;
  try {
    const r = await cli(['inspect', '--model', dir]);
    assertCleanError(
      r,
      /attention op com\.microsoft\.Attention \(node "\/layers\.0\/attn\/Attention"\), which never exposes its attention probabilities; supported: plain MatMul\/Softmax attention, com\.microsoft\.GroupQueryAttention, com\.microsoft\.MultiHeadAttention and the ONNX Attention op/,
    );
    assert.equal(r.code, 1);
    assert.equal(r.err.trim().split('\n').length, 1, 'one line');
    assert.ok(!existsSync(join(cache, 'instrumented')) || readdirSync(join(cache, 'instrumented')).length === 0, 'nothing cached');
  } finally {
    process.env.RETRIEVAL_LENS_CACHE = before;
  }
});

test('a prompt longer than the model context is refused with both numbers', async () => {
  const file = join(tempDir('rl-prompt-'), 'long.txt');
  writeFileSync(file, 'Once upon a time there was a little dog. '.repeat(200));
  const r = await cli(['generate', '--model', sharedModel('stories260K'), '--prompt-file', file, '--max-new-tokens', '5']);
  assertCleanError(r, /the prompt has \d+ tokens but the model's context length is 512/);
});

test('an empty prompt and a bad --mask are clear errors', async () => {
  assertCleanError(await cli(['generate', '--model', sharedModel('stories260K'), '--prompt', '   ']), /the prompt is empty/);
  const r = await cli(['generate', '--model', sharedModel('stories260K'), '--prompt', 'Hi', '--mask', '1-x']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--mask takes LAYER:HEAD pairs/);
  assertCleanError(
    await cli(['generate', '--model', sharedModel('stories260K'), '--prompt', 'Hi', '--mask', '9:0']),
    /head 9:0 does not exist/,
  );
});

test('the real binary exits non-zero with one line on stderr', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), 'inspect', '--model', '/nonexistent/model-folder'],
    {
      encoding: 'utf8',
      cwd: repoRoot,
    },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*\/nonexistent\/model-folder/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
