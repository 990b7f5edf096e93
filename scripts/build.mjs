// Bundles the extension host, the model worker, the CLI and the webview with esbuild.
// onnxruntime-node (native binaries) and vscode stay external. sharp, an image library that
// @huggingface/transformers requires at load but text models never use, is replaced by a stub that
// throws if ever called, so the packaged extension needs no image binaries.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  plugins: [
    {
      name: 'no-sharp',
      setup(b) {
        b.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'no-sharp' }));
        b.onLoad({ filter: /.*/, namespace: 'no-sharp' }, () => ({
          contents:
            'module.exports = function sharp() { throw new Error("Retrieval Lens runs text models only: image input is not supported"); };',
          loader: 'js',
        }));
      },
    },
  ],
  logLevel: 'warning',
  // transformers.js reads import.meta.url for its cache folder; give the cjs bundle one.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: 'const importMetaUrl = require("url").pathToFileURL(__filename).href;' },
};

export const entries = [
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' },
  { ...node, entryPoints: ['src/worker/worker.ts'], outfile: 'dist/worker.js' },
  // Chat templates render in a process of their own with a heap and a time limit (src/engine/chatTemplate.ts).
  { ...node, entryPoints: ['src/engine/chat-template-renderer.cjs'], outfile: 'dist/chat-template-renderer.js' },
  { ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
  },
].filter((e) => existsSync(e.entryPoints[0]));

// Run as a script it builds; imported (scripts/notices.mjs) it only lends its entries.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (watch) {
    for (const e of entries) (await esbuild.context(e)).watch();
  } else {
    await Promise.all(entries.map((e) => esbuild.build(e)));
  }
}
