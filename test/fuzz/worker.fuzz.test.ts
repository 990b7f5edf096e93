// The extension host's side of the hardening: the same bad models, texts and values reach the
// model worker (a real forked worker, as the extension runs it). Each must come back as one coded
// error (never INTERNAL, never a crashed worker) within a time bound, or as a correct result, and
// the next request must work. Seeded like the CLI fuzz suite (RL_FUZZ_SEED).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkerClient, WorkerError } from '../../src/worker/client.js';
import type { DetectRequest, ModelRef, WorkerRequest } from '../../src/worker/protocol.js';
import { summarize } from '../../src/method/aggregate.js';
import { rng } from '../../src/engine/sampling.js';
import { copyModel } from '../support/cli.js';
import { bundledModel, repoRoot, sharedModel, tempDir } from '../support/paths.js';

const SEED = Number(process.env.RL_FUZZ_SEED ?? 20251206);
const rand = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const client = new WorkerClient({ workerPath: join(repoRoot, 'src', 'worker', 'worker.ts'), execArgv: ['--import', 'tsx'] });
after(() => client.dispose());
const cacheDir = tempDir('rl-wfuzz-cache-');
/** The organism where retrieval matters; the small stories260K everywhere else (fast reloads between cases). */
const organism: ModelRef = { spec: bundledModel, cacheDir };
const good: ModelRef = { spec: sharedModel('stories260K'), cacheDir };
const shakespeare = readFileSync(join(repoRoot, 'data', 'haystack', 'shakespeare.txt'), 'utf8').slice(0, 40000);
const needle = {
  id: 'w',
  needle: "Quorbel's lucky number is 7316.",
  question: "What is Quorbel's lucky number?",
  real_needle: "Quorbel's lucky number is 7316.",
};

function badModels(): Record<string, string> {
  const heads = copyModel('stories260K', tempDir('rl-wfuzz-'));
  const cfg = JSON.parse(readFileSync(join(heads, 'config.json'), 'utf8'));
  writeFileSync(join(heads, 'config.json'), JSON.stringify({ ...cfg, num_attention_heads: 4 }));
  const corrupt = copyModel('stories260K', tempDir('rl-wfuzz-'));
  writeFileSync(join(corrupt, 'onnx', 'model.onnx'), readFileSync(join(corrupt, 'onnx', 'model.onnx')).subarray(0, 5000));
  const fifo = copyModel('stories260K', tempDir('rl-wfuzz-'));
  rmSync(join(fifo, 'onnx', 'model.onnx'));
  execFileSync('mkfifo', [join(fifo, 'onnx', 'model.onnx')]);
  const loop = copyModel('stories260K', tempDir('rl-wfuzz-'));
  const tc = JSON.parse(readFileSync(join(loop, 'tokenizer_config.json'), 'utf8'));
  writeFileSync(
    join(loop, 'tokenizer_config.json'),
    JSON.stringify({ ...tc, chat_template: '{% for i in range(100000000) %}x{% endfor %}' }),
  );
  const raising = copyModel('stories260K', tempDir('rl-wfuzz-'));
  writeFileSync(
    join(raising, 'tokenizer_config.json'),
    JSON.stringify({ ...tc, chat_template: "{{ raise_exception('roles must alternate') }}" }),
  );
  return { heads, corrupt, fifo, loop, raising };
}

interface WorkerCase {
  name: string;
  request: WorkerRequest;
  /** Error codes that are right for it; empty: it must succeed. */
  codes: string[];
  check?: (result: unknown) => void;
}

function cases(models: Record<string, string>): WorkerCase[] {
  const scores = summarize({ id: 'm', layers: 5, heads: 8 }, {}, [
    {
      length: 256,
      depth: 0,
      needleId: 'x',
      promptTokens: 100,
      span: [1, 3],
      success: true,
      rougeRecall: 1,
      response: 'r',
      question: 'q',
      scores: Array.from({ length: 5 }, () => new Array(8).fill(0.2)),
    },
  ]);
  const detect = (over: Partial<DetectRequest>): DetectRequest => ({
    kind: 'detect',
    model: good,
    haystack: [shakespeare],
    lengths: [256],
    depths: [50],
    needles: [needle],
    maxNewTokens: 20,
    threshold: 0.1,
    ...over,
  });
  return [
    {
      name: 'a config whose head count is wrong',
      request: { kind: 'load', model: { spec: models.heads, cacheDir } },
      codes: ['CONFIG_MISMATCH'],
    },
    { name: 'a truncated ONNX file', request: { kind: 'load', model: { spec: models.corrupt, cacheDir } }, codes: ['CORRUPT_ONNX'] },
    { name: 'a FIFO as model.onnx', request: { kind: 'load', model: { spec: models.fifo, cacheDir } }, codes: ['NOT_A_MODEL'] },
    {
      name: 'a relative owner/name that does not exist',
      request: { kind: 'load', model: { spec: 'someone/missing-model', cacheDir } },
      codes: ['MODEL_NOT_FOUND'],
    },
    {
      name: 'a chat template looping 10^8 times (detect)',
      request: { ...detect({}), model: { spec: models.loop, cacheDir }, lengths: [200] },
      codes: ['CHAT_TEMPLATE'],
    },
    {
      name: 'a chat template that raises (inspect)',
      request: {
        kind: 'inspect',
        model: { spec: models.raising, cacheDir },
        text: shakespeare,
        needle,
        depth: 50,
        maxPromptTokens: 300,
        maxNewTokens: 4,
        topPositions: 2,
      },
      codes: ['CHAT_TEMPLATE'],
    },
    {
      name: 'a document full of {question} and {context} (detect)',
      request: { ...detect({ haystack: [shakespeare.replace(/\n/g, ' {question} {context} ')] }), model: organism },
      codes: [],
      check: (r) =>
        assert.ok(
          (r as { cases: { response: string }[] }).cases.every((c) => c.response.length > 0),
          'answers, not empty ones',
        ),
    },
    {
      name: 'a document without sentence ends (inspect at 50%)',
      request: {
        kind: 'inspect',
        model: good,
        text: 'river stone lantern meadow copper '.repeat(100),
        needle,
        depth: 50,
        maxPromptTokens: 400,
        maxNewTokens: 4,
        topPositions: 2,
      },
      codes: [],
      check: (r) => {
        const { needleTextOffset, textUsed } = r as { needleTextOffset: number; textUsed: number };
        assert.ok(
          Math.abs(needleTextOffset / textUsed - 0.5) < 0.05,
          `the needle at ${((100 * needleTextOffset) / textUsed).toFixed(1)}%, not at the start`,
        );
      },
    },
    { name: 'needles with empty strings', request: detect({ needles: [{ ...needle, question: '  ' }] }), codes: ['BAD_INPUT'] },
    { name: 'needles with one id twice', request: detect({ needles: [needle, { ...needle }] }), codes: ['BAD_INPUT'] },
    { name: 'a negative threshold', request: detect({ threshold: -1 }), codes: ['BAD_INPUT'] },
    { name: 'a threshold that is not a number', request: detect({ threshold: 'abc' as unknown as number }), codes: ['BAD_INPUT'] },
    { name: 'lengths that are not a list', request: detect({ lengths: 'all' as unknown as number[] }), codes: ['BAD_INPUT'] },
    { name: 'a depth over 100', request: detect({ depths: [150] }), codes: ['BAD_INPUT'] },
    { name: 'an empty document', request: detect({ haystack: ['   \n  '] }), codes: ['EMPTY_INPUT'] },
    {
      name: 'max new tokens 0 (generate)',
      request: { kind: 'generate', model: good, prompt: 'Hi', maxNewTokens: 0 },
      codes: ['BAD_INPUT'],
    },
    {
      name: 'a mask naming a head that does not exist',
      request: {
        kind: 'generate',
        model: good,
        prompt: 'Hi',
        maxNewTokens: 2,
        mask: { heads: [{ layer: 99, head: 0 }], mode: 'uniform', scope: 'decode' },
      },
      codes: ['BAD_INPUT'],
    },
    {
      name: 'a scores file without settings (ablate)',
      request: {
        kind: 'ablate',
        model: good,
        scores: { ...scores, settings: null as unknown as Record<string, unknown> },
        ks: [1],
        randomTrials: 1,
        seed: 1,
        maskMode: 'uniform',
        maskScope: 'decode',
      },
      codes: ['BAD_INPUT'],
    },
    {
      name: 'a 6 MB document (countTokens, bounded)',
      request: { kind: 'countTokens', model: good, text: shakespeare.repeat(150) },
      codes: [],
      check: (r) => {
        const c = r as { tokens: number; atLeast?: boolean; contextLength: number };
        assert.ok(c.atLeast && c.tokens > c.contextLength, JSON.stringify(c));
      },
    },
  ];
}

test(`worker fuzz: bad models, texts and values come back as coded errors and the next request works (seed ${SEED})`, async () => {
  const all = cases(badModels());
  // Every case once, in a seeded order, with a few repeated.
  const order = [...all, ...Array.from({ length: 3 }, () => pick(all))].sort(() => rand() - 0.5);
  const problems: string[] = [];
  for (const c of order) {
    const t0 = Date.now();
    let outcome: string;
    try {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        client.request(c.request as never).finally(() => clearTimeout(timer)),
        new Promise((_, no) => (timer = setTimeout(() => no(new Error('no answer within 60 s')), 60_000))),
      ]);
      if (c.codes.length) outcome = `succeeded, expected ${c.codes.join('/')}`;
      else {
        c.check?.(result);
        outcome = 'ok';
      }
    } catch (e) {
      if (e instanceof WorkerError && c.codes.includes(e.code)) outcome = /\n/.test(e.message) ? `multi-line message: ${e.message}` : 'ok';
      else outcome = e instanceof WorkerError ? `${e.code}: ${e.message}` : `${(e as Error).message}`;
    }
    if (outcome !== 'ok') problems.push(`${c.name}: ${outcome}`);
    // The next run works, in the same worker (no crash).
    const pid = client.pid;
    const next = await client.request({ kind: 'generate', model: good, prompt: 'Once upon a time', maxNewTokens: 2 });
    if (next.tokenIds.length !== 2) problems.push(`${c.name}: the next request gave ${next.tokenIds.length} tokens`);
    if (client.pid !== pid || client.crashes) problems.push(`${c.name}: the worker crashed`);
    if (Date.now() - t0 > 60_000) problems.push(`${c.name}: took ${Date.now() - t0} ms`);
    if (process.env.RL_FUZZ_VERBOSE) console.log(`# ${Date.now() - t0} ms ${c.name}: ${outcome}`);
  }
  assert.deepEqual(problems, []);
});
