// What the fuzz suites share (models.fuzz, inputs.fuzz, flags.fuzz): the seeded PRNG, the
// reference runs, and the runner that checks every case. Seeded fuzzing of the CLI with the inputs a careless or unlucky user gives it: mutated
// config.json, ONNX and tokenizer files, needles/scores/template JSON, flag values, haystack texts
// and cache folders. Every case must end with exit 0 and a result checked correct, or exit 1/2
// with one `error:` line and no stack; leave no partial or replaced file; keep the cache good
// (a correct run afterwards gives the reference answer); and stay within its time (and, when
// spawned, memory) bound. Reproduce a run with RL_FUZZ_SEED=<seed>; RL_FUZZ_SCALE=2 doubles the counts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { rng } from '../../src/engine/sampling.js';
import { onnx } from '../../src/engine/graph.js';
import { parseScoresJson } from '../../src/method/formats.js';
import { assertCleanError, assertNoStack, assertUnchanged, cli, copyModel, snapshot, spawnCli, type CliResult } from '../support/cli.js';
import { repoRoot, sharedModel, tempDir } from '../support/paths.js';

export const SEED = Number(process.env.RL_FUZZ_SEED ?? 20251206);
export const SCALE = Number(process.env.RL_FUZZ_SCALE ?? 1);
export const rand = rng(SEED);
export const int = (n: number) => Math.floor(rand() * n);
export const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
export const count = (n: number) => Math.max(1, Math.round(n * SCALE));

export const cache = tempDir('rl-fuzz-cache-');
process.env.RETRIEVAL_LENS_CACHE = cache;
export const work = tempDir('rl-fuzz-');
export const stories = sharedModel('stories260K');
export const organismConfig = JSON.parse(readFileSync(join(sharedModel('needle-organism'), 'config.json'), 'utf8'));
export const storiesConfig = JSON.parse(readFileSync(join(stories, 'config.json'), 'utf8'));
export const needles = join(repoRoot, 'data', 'needles.jsonl');
export const oneNeedle = join(work, 'one-needle.jsonl');
writeFileSync(oneNeedle, readFileSync(needles, 'utf8').split('\n')[0] + '\n');
export const fifo = join(work, 'fifo');
export const bigSparse = join(work, 'big.txt');

/** The good stories260K copy whose ONNX bytes every config mutation shares: the entry a wrong config could poison. */
export let goodStories = '';
export let reference: number[] = [];
export let scoresFile = '';
export let scoresText = '';
export const PROMPT = ['--prompt', 'Once upon a time there was', '--max-new-tokens', '4', '--json'];
export const tokens = (r: CliResult) => JSON.parse(r.out).tokenIds as number[];

export async function setup(): Promise<void> {
  execFileSync('mkfifo', [fifo]);
  writeFileSync(bigSparse, '');
  truncateSync(bigSparse, 70 * 1024 * 1024);
  goodStories = copyModel('stories260K', tempDir('rl-fuzz-good-'));
  const r = await cli(['generate', '--model', goodStories, ...PROMPT]);
  assert.equal(r.code, 0, r.err);
  reference = tokens(r);
  scoresFile = join(work, 'scores.json');
  const d = await cli(['detect', '--lengths', '256', '--depths', '0,50', '--needles-file', oneNeedle, '--out', scoresFile]);
  assert.equal(d.code, 0, d.err);
  scoresText = readFileSync(scoresFile, 'utf8');
}

export interface Case {
  name: string;
  args: string[];
  /** Run as a real process with a time and heap bound (inputs that could hang or fill the memory). */
  spawn?: boolean;
  /** Required exit code(s), when the input decides it. */
  expect?: number[];
  /** For exit 0: the result is correct. */
  check?: (r: CliResult) => void;
  /** The cache is checked after this case (config and cache mutations). */
  cacheCheck?: boolean;
  env?: Record<string, string>;
  /** The folder its --out points into (default: a fresh one nothing writes to). */
  outDir?: string;
}

export interface Outcome {
  name: string;
  code: number;
  ms: number;
  /** The run's last stderr line. */
  said: string;
  problem?: string;
}

/** A folder for --out with a file already in it: a failed run must leave both as they were. */
export function outDir(): { dir: string; existing: string; fresh: string } {
  const dir = tempDir('rl-fuzz-out-');
  const existing = join(dir, 'existing.json');
  writeFileSync(existing, '{"previous": true}');
  chmodSync(existing, 0o640);
  return { dir, existing, fresh: join(dir, 'new.json') };
}

export async function cacheIsGood(): Promise<void> {
  const r = await cli(['generate', '--model', goodStories, ...PROMPT]);
  assert.equal(r.code, 0, `a correct run after the case: ${r.err}`);
  assert.deepEqual(tokens(r), reference, 'the correct model gives its answer: the cache is not poisoned');
}

export async function runCases(cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of cases) {
    const dir = c.outDir ?? outDir().dir;
    const o = { dir, before: snapshot(dir) };
    const saved = process.env.RETRIEVAL_LENS_CACHE;
    if (c.env?.RETRIEVAL_LENS_CACHE !== undefined && !c.spawn) process.env.RETRIEVAL_LENS_CACHE = c.env.RETRIEVAL_LENS_CACHE;
    let r: CliResult;
    try {
      r = c.spawn ? await spawnCli(c.args, { timeoutMs: 60_000, heapMb: 384, env: c.env }) : await cli(c.args);
    } finally {
      process.env.RETRIEVAL_LENS_CACHE = saved;
    }
    let problem: string | undefined;
    try {
      assert.ok(!r.timedOut, 'killed at the time bound');
      assert.ok(r.ms < (c.spawn ? 45_000 : 30_000), `took ${r.ms} ms`);
      if (c.spawn) assert.ok((r.maxRssMb ?? 0) < 1200, `peak memory ${r.maxRssMb} MB`);
      assertNoStack(r);
      assert.ok([0, 1, 2].includes(r.code), `exit ${r.code}`);
      if (c.expect)
        assert.ok(c.expect.includes(r.code), `exit ${r.code}, expected ${c.expect.join(' or ')}: ${r.err.trim().split('\n').at(-1)}`);
      if (r.code !== 0) {
        assertCleanError(r, [1, 2]);
        // Files of a failed run: none new, none replaced.
        assertUnchanged(o.dir, o.before, 'output folder');
      } else {
        assert.ok(!/^error:/m.test(r.err), `exit 0 with an error line: ${r.err}`);
        assert.ok(r.err.split('\n').filter((l) => l.startsWith('warning:')).length <= 1, `at most one warning: ${r.err}`);
        c.check?.(r);
      }
      if (c.cacheCheck) await cacheIsGood();
    } catch (e) {
      problem = (e as Error).message.split('\n').slice(0, 6).join(' | ');
    }
    outcomes.push({ name: c.name, code: r.code, ms: r.ms, said: r.err.trim().split('\n').at(-1) ?? '', problem });
  }
  return outcomes;
}

export function report(category: string, outcomes: Outcome[]): void {
  const bad = outcomes.filter((o) => o.problem);
  const codes = outcomes.reduce<Record<number, number>>((m, o) => ((m[o.code] = (m[o.code] ?? 0) + 1), m), {});
  const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a), outcomes[0]);
  if (process.env.RL_FUZZ_VERBOSE) for (const o of outcomes) console.log(`# ${o.code} ${o.ms}ms ${o.name} -> ${o.said.slice(0, 200)}`);
  console.log(
    `# fuzz ${category}: ${outcomes.length} cases (seed ${SEED}), exits ${JSON.stringify(codes)}, slowest ${slowest?.ms} ms (${slowest?.name})`,
  );
  assert.deepEqual(
    bad.map((o) => `${o.name}: ${o.problem}`),
    [],
    `${bad.length} of ${outcomes.length} ${category} cases misbehaved (seed ${SEED})`,
  );
}

export function mutateText(text: string): [string, Buffer] {
  const k = int(7);
  switch (k) {
    case 0:
      return ['truncated', Buffer.from(text.slice(0, int(text.length)))];
    case 1: {
      const b = Buffer.from(text);
      for (let i = 0; i < 1 + int(4); i++) b[int(b.length)] = int(256);
      return ['bytes flipped', b];
    }
    case 2:
      return ['BOM', Buffer.from('\uFEFF' + text)];
    case 3:
      return ['empty', Buffer.alloc(0)];
    case 4:
      return ['array root', Buffer.from(`[${text}]`)];
    case 5:
      return ['deep nesting', Buffer.from('['.repeat(20000) + ']'.repeat(20000))];
    default:
      return ['NUL bytes', Buffer.from(text.replace(/,/, ',\u0000'))];
  }
}
