// The instrumented-graph cache: entries hold no weights, are keyed by everything that shapes the
// rewrite, are verified before use and rebuilt when they do not verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.js';
import { instrumentedGraph } from '../../src/engine/cache.js';
import { sharedModel, tempDir } from '../support/paths.js';

const prompt = [1, 40, 41, 42, 43, 44, 45, 46, 47, 48];

async function greedy(dir: string, cacheDir: string): Promise<number[]> {
  const m = await loadModel(dir, { cacheDir });
  try {
    return (await m.generate(prompt, { maxNewTokens: 6, stopTokens: [] })).tokenIds;
  } finally {
    await m.dispose();
  }
}

function entries(cacheDir: string): string[] {
  return readdirSync(join(cacheDir, 'instrumented')).map((d) => join(cacheDir, 'instrumented', d));
}

test('a cache entry references the source weights: it is small and the source folder is left untouched', async () => {
  const cacheDir = tempDir('rl-cache-');
  const dir = sharedModel('needle-organism');
  await greedy(dir, cacheDir);
  const [entry] = entries(cacheDir);
  const size = statSync(join(entry, 'model.onnx')).size;
  assert.ok(size < 512 * 1024, `instrumented graph is ${size} bytes`);
  assert.ok(statSync(join(dir, 'onnx', 'model.onnx')).size > 10 * size);
  assert.deepEqual(readdirSync(entry).sort(), ['meta.json', 'model.onnx']);
});

test('a run with a wrong config.json does not poison the cache for the right one', async () => {
  const cacheDir = tempDir('rl-cache-');
  const good = sharedModel('needle-organism');
  const want = await greedy(good, cacheDir);
  const bad = join(tempDir('rl-badcfg-'), 'model');
  cpSync(good, bad, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(bad, 'config.json'), 'utf8'));
  cfg.num_attention_heads = 4;
  cfg.head_dim = 32;
  writeFileSync(join(bad, 'config.json'), JSON.stringify(cfg));
  await assert.rejects(greedy(bad, cacheDir), /config/);
  assert.deepEqual(await greedy(good, cacheDir), want);
});

test('a tampered, truncated or half-written entry is rebuilt, never trusted', async () => {
  const cacheDir = tempDir('rl-cache-');
  const dir = sharedModel('stories260K');
  const want = await greedy(dir, cacheDir);
  const [entry] = entries(cacheDir);
  const graph = join(entry, 'model.onnx');
  const meta = join(entry, 'meta.json');
  // 1 KB of the cached graph overwritten.
  const buf = readFileSync(graph);
  buf.fill(7, 2000, 3024);
  writeFileSync(graph, buf);
  assert.deepEqual(await greedy(dir, cacheDir), want);
  // Truncated graph.
  writeFileSync(graph, readFileSync(graph).subarray(0, 1000));
  assert.deepEqual(await greedy(dir, cacheDir), want);
  // Truncated meta, then an empty one.
  writeFileSync(meta, readFileSync(meta, 'utf8').slice(0, 40));
  assert.deepEqual(await greedy(dir, cacheDir), want);
  writeFileSync(meta, '');
  assert.deepEqual(await greedy(dir, cacheDir), want);
  const shape = { layers: 5, heads: 8, kvHeads: 4, headDim: 8, windowed: false };
  const g = await instrumentedGraph(join(dir, 'onnx', 'model.onnx'), shape, cacheDir);
  assert.equal(g.fromCache, true, 'the rebuilt entry verifies');
});

test('an unwritable cache folder keeps the graph in memory and says so', async () => {
  const file = join(tempDir('rl-cachefile-'), 'not-a-folder');
  writeFileSync(file, 'x');
  const dir = sharedModel('stories260K');
  const notes: string[] = [];
  const m = await loadModel(dir, { cacheDir: file, onProgress: (p) => p.stage === 'warning' && notes.push(p.message!) });
  try {
    assert.equal(m.instrumentation.instrumentedPath, '(in memory)');
    assert.match(notes.join('\n'), /cannot write the cache folder .*in memory only/);
    assert.equal((await m.generate(prompt, { maxNewTokens: 3, stopTokens: [] })).tokenIds.length, 3);
  } finally {
    await m.dispose();
  }
});

test('entries of the old symlink-based layout are dropped when the source is instrumented again', async () => {
  const cacheDir = tempDir('rl-cache-');
  const dir = sharedModel('stories260K');
  await greedy(dir, cacheDir);
  const meta = JSON.parse(readFileSync(join(entries(cacheDir)[0], 'meta.json'), 'utf8'));
  const sha = JSON.parse(meta.key).source as string;
  const legacy = join(cacheDir, 'instrumented', `${sha.slice(0, 24)}-v2`);
  mkdirSync(legacy);
  writeFileSync(join(legacy, 'model.onnx'), 'old');
  // A rebuild (forced by removing the meta) sweeps the legacy entry.
  writeFileSync(
    join(
      entries(cacheDir).find((e) => !e.endsWith('-v2'))!,
      'meta.json',
    ),
    '{}',
  );
  await greedy(dir, cacheDir);
  assert.ok(!entries(cacheDir).some((e) => e.endsWith('-v2')));
});
