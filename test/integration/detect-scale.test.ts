// Detection that scales: shared-prefix reuse gives the same scores as whole prefills; shards run in
// parallel processes merge into exactly what one run writes; an interrupted run resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import { runDetection } from '../../src/method/detect.js';
import { parsePartial } from '../../src/method/partial.js';
import { repoRoot, sharedModel, tempDir } from '../support/paths.js';

const haystack = [readFileSync(join(repoRoot, 'data', 'haystack', 'shakespeare.txt'), 'utf8').slice(0, 60_000)];
const cacheDir = tempDir('rl-scale-cache-');
const bin = join(repoRoot, 'bin', 'retrieval-lens.js');

function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, RETRIEVAL_LENS_CACHE: cacheDir } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test('prefix reuse and batched decoding: the same cases, the same scores as one whole prefill and one decode per case, with a third of the prompt positions reused (depths 0/50/100)', async () => {
  const model = await loadModel(sharedModel('needle-organism'), { cacheDir });
  try {
    const opts = { haystack, lengths: [256, 512], depths: [0, 50, 100] };
    assert.equal(model.info.batchDecoding, true, 'the organism decodes in batches');
    const whole = await runDetection(model, { ...opts, reusePrefix: false, batch: false });
    const stats = { reusedPositions: 0, prefilledPositions: 0 };
    const partials: { cases: number; done: number; total: number }[] = [];
    const reused = await runDetection(model, opts, {
      stats,
      onPartial: (p, done, total) => partials.push({ cases: p.cases.length, done, total }),
    });
    // Streaming: a scores file after every case, each holding the cases done so far.
    assert.equal(partials.length, whole.cases.length);
    assert.deepEqual(
      partials.map((p) => p.cases),
      partials.map((p) => p.done),
    );
    assert.equal(partials.at(-1)!.done, partials.at(-1)!.total);
    assert.ok(
      stats.reusedPositions > 0.3 * (stats.reusedPositions + stats.prefilledPositions),
      `reused ${stats.reusedPositions}, prefilled ${stats.prefilledPositions}`,
    );
    assert.deepEqual(reused.cases, whole.cases);
    assert.deepEqual(reused.scores, whole.scores);
  } finally {
    await model.dispose();
  }
});

test('shards in parallel processes merge into exactly the unsharded scores file', async () => {
  const dir = tempDir('rl-shards-');
  const grid = ['--model', sharedModel('needle-organism'), '--lengths', '256,384', '--depths', '0,50,100'];
  const parts = await Promise.all([1, 2, 3].map((i) => cli(['detect', ...grid, '--shard', `${i}/3`, '--out', `part${i}.json`], dir)));
  for (const p of parts) assert.equal(p.code, 0, p.err);
  const merged = await cli(['merge', 'part3.json', 'part1.json', 'part2.json', '--out', 'merged.json'], dir);
  assert.equal(merged.code, 0, merged.err);
  const full = await cli(['detect', ...grid, '--out', 'full.json'], dir);
  assert.equal(full.code, 0, full.err);
  assert.equal(readFileSync(join(dir, 'merged.json'), 'utf8'), readFileSync(join(dir, 'full.json'), 'utf8'));
  // A missing or repeated shard is refused.
  const missing = await cli(['merge', 'part1.json', 'part2.json'], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: shard\(s\) 3\/3 missing\n$/);
  const twice = await cli(['merge', 'part1.json', 'part1.json', 'part2.json'], dir);
  assert.match(twice.err, /shard 1\/3 is given twice/);
});

test('an interrupted grid resumes from its partial file and ends with the same result', async () => {
  const dir = tempDir('rl-resume-');
  const grid = ['--model', sharedModel('needle-organism'), '--lengths', '256', '--depths', '0,50,100', '--out', 'scores.json'];
  const full = await cli(['detect', ...grid.slice(0, -1), 'full.json'], dir);
  assert.equal(full.code, 0, full.err);
  // A partial file as a run interrupted after 4 of 9 cases leaves it.
  const all = JSON.parse(readFileSync(join(dir, 'full.json'), 'utf8'));
  const partial = {
    format: 'retrieval-lens/partial@1',
    model: all.model,
    settings: all.settings,
    planned: 9,
    cases: all.cases.slice(0, 4),
  };
  writeFileSync(join(dir, 'scores.json.partial.json'), JSON.stringify(partial));
  parsePartial(JSON.stringify(partial), 'check');
  const r = await cli(['detect', ...grid, '--resume'], dir);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /resuming from scores\.json\.partial\.json: 4 of 9 cases already done/);
  assert.match(r.err, /\[5\/9\]/);
  assert.doesNotMatch(r.err, /\[1\/9\]/);
  assert.equal(readFileSync(join(dir, 'scores.json'), 'utf8'), readFileSync(join(dir, 'full.json'), 'utf8'));
  assert.ok(!existsSync(join(dir, 'scores.json.partial.json')), 'the partial file is gone once the run completes');
});
