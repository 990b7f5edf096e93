// THIRD_PARTY_NOTICES.md: the licence of every package whose code the VSIX carries, found rather
// than listed by hand: esbuild's metafile names the node_modules files that end up in the shipped
// bundles (dist/extension.js, worker.js, webview.js, chat-template-renderer.js), and the packages
// shipped as they are (onnxruntime-node and onnxruntime-common, native code esbuild leaves out).
//   node scripts/notices.mjs          writes THIRD_PARTY_NOTICES.md
//   node scripts/notices.mjs --check  exits 1 when the file is not what the current build ships
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { entries } from './build.mjs';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
export const NOTICES = 'THIRD_PARTY_NOTICES.md';

/** The bundles the VSIX ships (dist/cli.js is the npm CLI's, not the extension's). */
const SHIPPED = ['dist/extension.js', 'dist/worker.js', 'dist/webview.js', 'dist/chat-template-renderer.js'];
/** Packages the VSIX carries in node_modules/, outside the bundles. */
const SHIPPED_AS_IS = ['onnxruntime-node', 'onnxruntime-common'];
/**
 * Packages published without a licence file: their licence text, with the copyright their sources
 * state ("Copyright (c) Microsoft Corporation. All rights reserved. Licensed under the MIT License.").
 */
const NO_LICENSE_FILE = {
  'onnxruntime-node': 'Copyright (c) Microsoft Corporation',
  'onnxruntime-common': 'Copyright (c) Microsoft Corporation',
};

const MIT = (copyright) => `MIT License

${copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

/** "node_modules/@scope/name/..." or "node_modules/a/node_modules/b/..." -> the innermost package folder. */
function packageDir(input) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m ? m[1] : undefined;
}

/** Package folders whose code is in the shipped bundles (inputs that put bytes in the output). */
export async function bundledPackages() {
  const dirs = new Set();
  for (const entry of entries.filter((e) => SHIPPED.includes(e.outfile))) {
    const result = await esbuild.build({ ...entry, write: false, metafile: true, sourcemap: false, logLevel: 'error' });
    for (const output of Object.values(result.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const dir = bytesInOutput > 0 ? packageDir(input) : undefined;
        if (dir) dirs.add(dir);
      }
    }
  }
  for (const name of SHIPPED_AS_IS) dirs.add(`node_modules/${name}`);
  return [...dirs];
}

function licenseText(dir, pkg) {
  const file = readdirSync(join(root, dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  if (file) return readFileSync(join(root, dir, file), 'utf8').trim() + '\n';
  if (NO_LICENSE_FILE[pkg.name] && pkg.license === 'MIT') return MIT(NO_LICENSE_FILE[pkg.name]);
  throw new Error(`${dir} has no licence file: read its licence and add it to NO_LICENSE_FILE in scripts/notices.mjs`);
}

const repositoryUrl = (pkg) =>
  (typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url)?.replace(/^git\+/, '').replace(/\.git$/, '') ?? pkg.homepage;

export async function notices() {
  const packages = new Map();
  for (const dir of await bundledPackages()) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    // A package's nested copies (another version) are listed once per version.
    packages.set(`${pkg.name}@${pkg.version}`, { dir, pkg });
  }
  const sorted = [...packages.values()].sort((a, b) => a.pkg.name.localeCompare(b.pkg.name) || a.pkg.version.localeCompare(b.pkg.version));
  const lines = [
    '# Third-party notices',
    '',
    'Retrieval Lens ships code of the following packages, bundled into its `dist/` files or, for',
    'onnxruntime, as the package itself with its native library. Each is listed with its version, its',
    'licence and the licence text it is published with. Generated by `node scripts/notices.mjs` from',
    "the build's own record of what it bundles.",
    '',
    '| package | version | licence |',
    '|---|---|---|',
    ...sorted.map(({ pkg }) => `| ${pkg.name} | ${pkg.version} | ${pkg.license ?? 'see below'} |`),
    '',
    '## Bundled data',
    '',
    '- `models/needle-organism-2k`: a model trained for this project (see its `PROVENANCE.md` and model',
    '  card `README.md`); its 512-token SentencePiece tokenizer is that of stories260K (karpathy/tinyllamas,',
    '  from the llama2.c project, MIT licence).',
    '- `data/haystack/shakespeare.txt`: "tiny Shakespeare" from karpathy/char-rnn; Shakespeare\'s plays',
    '  are in the public domain (see `data/haystack/PROVENANCE.md`).',
    "- The onnxruntime native library carries code of further projects, listed in onnxruntime's own",
    '  ThirdPartyNotices.txt (https://github.com/microsoft/onnxruntime/blob/main/ThirdPartyNotices.txt).',
  ];
  for (const { dir, pkg } of sorted) {
    const url = repositoryUrl(pkg);
    lines.push(
      '',
      `## ${pkg.name} ${pkg.version}`,
      '',
      `Licence: ${pkg.license ?? 'see below'}${url ? `; source: ${url}` : ''}`,
      '',
      '```',
      licenseText(dir, pkg).trimEnd(),
      '```',
    );
  }
  return lines.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const text = await notices();
  const path = join(root, NOTICES);
  if (process.argv.includes('--check')) {
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (current !== text) {
      console.error(`${NOTICES} is not what the build ships: run node scripts/notices.mjs`);
      process.exit(1);
    }
  } else writeFileSync(path, text);
}
