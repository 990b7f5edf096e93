// The VSIX ships what runs and nothing else: built with npm run package's script, its listing is
// checked (no repo-root strays, sources, source maps, type declarations, the CLI bundle or the
// package script's leftovers; LICENSE, third-party notices, icon and the user's README are there),
// and the worker unpacked from it alone generates text with the bundled model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot, tempDir } from '../support/paths.js';
import { readZip } from '../support/zip.js';

const target = `${process.platform}-${process.arch}`;

test('the committed third-party notices name what the build bundles', () => {
  execFileSync(process.execPath, ['scripts/notices.mjs', '--check'], { cwd: repoRoot, stdio: 'pipe' });
  const notices = readFileSync(join(repoRoot, 'THIRD_PARTY_NOTICES.md'), 'utf8');
  for (const name of [
    'onnxruntime-node',
    'onnxruntime-common',
    '@huggingface/transformers',
    '@huggingface/jinja',
    '@vscode-elements/elements',
  ])
    assert.match(notices, new RegExp(`^## ${name.replace('/', '\\/')} \\d`, 'm'), name);
  assert.match(notices, /Apache License/, "transformers.js's licence text");
});

test('the VSIX lists only what runs, with LICENSE, notices, icon and the user README', { timeout: 300_000 }, async () => {
  const dir = tempDir('rl-vsix-');
  const vsix = join(dir, 'retrieval-lens.vsix');
  // A user's file in the repo root, as the scores.json that was once packed.
  const stray = join(repoRoot, `stray-${process.pid}.json`);
  writeFileSync(stray, '{}');
  try {
    execFileSync(process.execPath, ['scripts/package.mjs', '--target', target, '--out', vsix], { cwd: repoRoot, stdio: 'pipe' });
  } finally {
    rmSync(stray, { force: true });
  }
  const entries = readZip(readFileSync(vsix));
  const names = entries.map((e) => e.name);
  const allowed =
    /^(extension\.vsixmanifest|\[Content_Types\]\.xml|extension\/(package\.json|readme\.md|LICENSE\.txt|THIRD_PARTY_NOTICES\.md|dist\/[a-z-]+\.js|media\/[\w.-]+|models\/needle-organism-2k\/.+|data\/.+|node_modules\/onnxruntime-(node|common)\/.+))$/;
  for (const n of names) assert.match(n, allowed, `unexpected entry ${n}`);
  for (const n of names) {
    assert.doesNotMatch(n, /\.(ts|map)$/, `no TypeScript source, declaration or source map: ${n}`);
    assert.doesNotMatch(n, /stray-|scores\.json|vscodeignore|dist\/cli\.js|onnxruntime-common\/(lib|dist\/esm)\//, n);
  }
  for (const n of [
    'extension/LICENSE.txt',
    'extension/THIRD_PARTY_NOTICES.md',
    'extension/media/icon.png',
    'extension/dist/extension.js',
    'extension/dist/worker.js',
    'extension/dist/webview.js',
    'extension/dist/chat-template-renderer.js',
    'extension/models/needle-organism-2k/onnx/model.onnx',
    'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
    `extension/node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`,
  ])
    assert.ok(names.includes(n), `has ${n}`);
  assert.equal(
    names.filter((n) => n.includes('/bin/napi-v6/')).every((n) => n.includes(`/${process.platform}/${process.arch}/`)),
    true,
    "only this platform's binaries",
  );
  const read = (n: string) =>
    entries
      .find((e) => e.name === n)!
      .read()
      .toString('utf8');
  assert.match(read('extension/LICENSE.txt'), /^MIT License/);
  const readme = read('extension/readme.md');
  assert.match(readme, /## Use your own model/, "the user's README is the package page");
  assert.doesNotMatch(readme, /npm test|npm ci/, 'not the developer README');
  const manifest = read('extension.vsixmanifest');
  assert.match(manifest, /Microsoft\.VisualStudio\.Services\.Icons\.Default" Path="extension\/media\/icon\.png"/);
  assert.match(manifest, /Microsoft\.VisualStudio\.Services\.Content\.License" Path="extension\/LICENSE\.txt"/);
  const png = entries.find((e) => e.name === 'extension/media/icon.png')!.read();
  assert.equal(png.readUInt32BE(16), 256, 'a 256 px icon');

  // What the VSIX carries is enough: its worker, unpacked alone, loads the model and generates.
  const unpacked = tempDir('rl-vsix-unpacked-');
  for (const e of entries) {
    if (e.name.endsWith('/')) continue;
    mkdirSync(dirname(join(unpacked, e.name)), { recursive: true });
    writeFileSync(join(unpacked, e.name), e.read());
  }
  const ext = join(unpacked, 'extension');
  const worker = fork(join(ext, 'dist', 'worker.js'), [], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, RETRIEVAL_LENS_CACHE: join(unpacked, 'cache') },
  });
  let stderr = '';
  worker.stderr!.on('data', (d) => (stderr += d));
  try {
    const result = await new Promise<{ text: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the unpacked worker; stderr: ${stderr}`)), 120_000);
      worker.on('exit', (code) => reject(new Error(`the unpacked worker exited with ${code}: ${stderr}`)));
      worker.on('message', (m: { type: string; result?: { text: string }; error?: { message: string } }) => {
        if (m.type === 'ready')
          worker.send({
            type: 'request',
            id: 1,
            request: {
              kind: 'generate',
              model: { spec: join(ext, 'models', 'needle-organism-2k') },
              prompt: "Zorvak's secret code is 48213. The sailors sang.\n\nQuestion: What is Zorvak's secret code?\nAnswer:",
              maxNewTokens: 40,
            },
          });
        else if (m.type === 'result') {
          clearTimeout(timer);
          resolve(m.result!);
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(m.error!.message));
        }
      });
    });
    assert.match(result.text, /48213/);
  } finally {
    worker.kill();
  }
});
