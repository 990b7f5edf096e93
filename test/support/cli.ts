// Running the CLI the ways the hardening tests need: in process (fast, most cases) and as a real
// process with a time and memory bound (inputs that could hang or fill the memory), plus the
// checks every bad-input case makes: the exit code, one `error:` line and no stack trace, the
// output folder unchanged, the model folder left as it was.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { repoRoot, sharedModel, tempDir } from './paths.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
  ms: number;
  /** Peak resident memory of a spawned run, in MB (undefined in process). */
  maxRssMb?: number;
  timedOut?: boolean;
}

/** main() in this process. */
export async function cli(args: string[], signal = new AbortController().signal): Promise<CliResult> {
  let out = '';
  let err = '';
  const t0 = Date.now();
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), signal });
  return { code, out, err, ms: Date.now() - t0 };
}

const newestSource = (dir: string): number =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? newestSource(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
    ),
  );

let built = false;
/** dist/ as the current sources build it (the tests may run without `npm run build`). */
export function ensureBuilt(): void {
  if (built) return;
  const cliJs = join(repoRoot, 'dist', 'cli.js');
  const worker = join(repoRoot, 'dist', 'chat-template-renderer.js');
  if (!existsSync(cliJs) || !existsSync(worker) || statSync(cliJs).mtimeMs < newestSource(join(repoRoot, 'src'))) {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, stdio: 'ignore' });
  }
  built = true;
}

/** A launcher that runs the built CLI (what bin/retrieval-lens.js runs) and reports its peak memory on fd 3. */
const LAUNCHER = `
const fs = require('node:fs');
process.on('exit', () => { try { fs.writeSync(3, String(Math.round(process.resourceUsage().maxRSS / 1024))); } catch {} });
require(${JSON.stringify(join(repoRoot, 'dist', 'cli.js'))}).runCli();
`;

/**
 * The built CLI as a real process, killed after `timeoutMs`, with a V8 heap of `heapMb`: what a
 * hang or an unbounded read would do to a user, measured.
 */
export function spawnCli(
  args: string[],
  opts: { timeoutMs?: number; heapMb?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  ensureBuilt();
  const t0 = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${opts.heapMb ?? 512}`, '-e', LAUNCHER, '--', 'retrieval-lens', ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let rss = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (rss += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 + 9 : -1), out, err, ms: Date.now() - t0, maxRssMb: rss ? Number(rss) : undefined, timedOut });
    });
  });
}

/** The run failed as a user can act on: exit 1 or 2, and its one error line last, without a stack. */
export function assertCleanError(r: CliResult, code: 1 | 2 | (1 | 2)[], pattern?: RegExp): void {
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(r.code as 1 | 2), `exit ${r.code}, expected ${codes.join(' or ')}; stderr: ${r.err}`);
  assertNoStack(r);
  const lines = r.err.trimEnd().split('\n');
  const errors = lines.filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, `one error line: ${r.err}`);
  assert.ok(lines.at(-1)!.startsWith('error:'), `the error line comes last: ${r.err}`);
  if (pattern) assert.match(errors[0], pattern);
}

export function assertNoStack(r: CliResult): void {
  assert.doesNotMatch(r.err, /internal error|\n\s+at |^\s+at /m, `no stack trace: ${r.err}`);
  assert.ok(![70, 134, 137].includes(r.code), `exit ${r.code}: ${r.err}`);
}

/** Name -> size, mode and bytes of every entry in a folder (symlinks by target), to compare before and after. */
export function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    const kind = st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isFIFO() ? 'fifo' : 'other';
    const body = st.isFile() ? readFileSync(p).toString('base64') : '';
    m.set(name, `${kind} ${st.mode.toString(8)} ${body}`);
  }
  return m;
}

export function assertUnchanged(dir: string, before: Map<string, string>, what = dir): void {
  const after = snapshot(dir);
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), `${what}: no file added or removed`);
  for (const [k, v] of before) assert.equal(after.get(k), v, `${what}: ${k} unchanged`);
}

/** A writable copy of a shared model. */
export function copyModel(name: 'needle-organism' | 'stories260K', into = tempDir('rl-model-')): string {
  const dir = join(into, name);
  cpSync(sharedModel(name), dir, { recursive: true });
  const walk = (p: string) => {
    chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) walk(join(p, f));
  };
  walk(dir);
  return dir;
}

export { existsSync };
