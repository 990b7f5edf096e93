// Fuzzing the instrumented-graph cache folder: damaged entries, odd cache locations, read-only copies
// (support.ts runs and checks each case). A damaged entry must be rebuilt, never trusted.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/paths.js';
import {
  int,
  pick,
  count,
  cache,
  work,
  goodStories,
  reference,
  PROMPT,
  tokens,
  type Case,
  type Outcome,
  runCases,
  report,
  setup,
  SEED,
} from './support.js';

before(setup);

// ---------------------------------------------------------------- cache folder

function cacheCases(n: number): Case[] {
  const entries = () =>
    existsSync(join(cache, 'instrumented')) ? readdirSync(join(cache, 'instrumented')).map((d) => join(cache, 'instrumented', d)) : [];
  return Array.from({ length: n }, (_, i) => {
    const k = int(9);
    let what = '';
    let env: Record<string, string> | undefined;
    let spawn = false;
    const harm = () => {
      const all = entries().filter((e) => existsSync(join(e, 'meta.json')));
      if (!all.length) return;
      const e = pick(all);
      const g = join(e, 'model.onnx');
      const m = join(e, 'meta.json');
      switch (k) {
        case 0: {
          const b = readFileSync(g);
          for (let j = 0; j < 1 + int(64); j++) b[int(b.length)] = int(256);
          writeFileSync(g, b);
          break;
        }
        case 1:
          truncateSync(g, int(readFileSync(g).length));
          break;
        case 2:
          writeFileSync(m, readFileSync(m, 'utf8').slice(0, int(200)));
          break;
        case 3: {
          const other = pick(all);
          const [a, b] = [readFileSync(join(other, 'model.onnx')), readFileSync(join(other, 'meta.json'))];
          writeFileSync(g, a);
          writeFileSync(m, b);
          break;
        }
        case 4:
          rmSync(e, { recursive: true });
          writeFileSync(e, 'not a folder');
          break;
        case 5: {
          const memo = join(cache, 'source-hashes');
          if (existsSync(memo))
            for (const f of readdirSync(memo)) writeFileSync(join(memo, f), pick(['{', '{"id": 1, "sha256": "zz"}', '']));
          break;
        }
        default:
          break;
      }
    };
    if (k <= 5)
      what = [
        'graph bytes flipped',
        'graph truncated',
        'meta truncated',
        'entry swapped with another',
        'entry replaced by a file',
        'source-hash memos corrupted',
      ][k];
    else if (k === 6) {
      const f = join(work, `cache-file-${i}`);
      writeFileSync(f, 'x');
      env = { RETRIEVAL_LENS_CACHE: pick([f, '/proc/self/rl-cache', join(f, 'below-a-file')]) };
      what = `RETRIEVAL_LENS_CACHE=${env.RETRIEVAL_LENS_CACHE}`;
      spawn = env.RETRIEVAL_LENS_CACHE.startsWith('/proc');
    } else if (k === 7) {
      const loop = join(work, `cache-loop-${i}`);
      symlinkSync(loop, loop);
      env = { RETRIEVAL_LENS_CACHE: loop };
      what = 'cache folder a symlink loop';
    } else {
      const ro = tempDir('rl-fuzz-ro-cache-');
      cpSync(cache, ro, { recursive: true });
      const walk = (p: string) => {
        for (const f of readdirSync(p, { withFileTypes: true })) if (f.isDirectory()) walk(join(p, f.name));
        chmodSync(p, 0o555);
      };
      walk(ro);
      env = { RETRIEVAL_LENS_CACHE: ro };
      what = 'a read-only copy of the cache';
    }
    return {
      name: `cache ${what} (${i})`,
      args: ['generate', '--model', goodStories, ...PROMPT],
      env,
      spawn,
      expect: [0],
      cacheCheck: true,
      check: (r) => assert.deepEqual(tokens(r), reference, 'the right answer, never garbage from a damaged entry'),
      harm,
    } as Case & { harm: () => void };
  });
}

test(`fuzz: cache folder damage (seed ${SEED})`, async () => {
  const cases = cacheCases(count(18));
  const outcomes: Outcome[] = [];
  for (const c of cases) {
    (c as Case & { harm: () => void }).harm();
    outcomes.push(...(await runCases([c])));
  }
  report('cache', outcomes);
});
