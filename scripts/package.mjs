// npm run package [-- --target linux-x64] [-- --out FILE]: a VSIX for one platform, carrying only
// that platform's onnxruntime binaries (all platforms together make a ~300 MB package), the
// production bundles, the licences and the user's README (media/README.marketplace.md) as its page.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const option = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const target = option('--target') ?? `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
const out = option('--out') ?? join(root, `retrieval-lens-${target}.vsix`);
const [os, arch] = target.split('-');
const platforms = { linux: ['x64', 'arm64'], darwin: ['arm64'], win32: ['x64', 'arm64'] };
if (!platforms[os]?.includes(arch)) throw new Error(`no onnxruntime-node binaries for ${target}`);

// vsce lets a negated pattern win over any exclusion, so the platform goes into the negation itself.
// The narrowed ignore file lives outside the repository: vsce would pack it from there.
const base = readFileSync(join(root, '.vscodeignore'), 'utf8');
if (!base.includes('!node_modules/onnxruntime-node/bin/**'))
  throw new Error('.vscodeignore no longer has the onnxruntime bin line this script narrows');
const tmp = mkdtempSync(join(tmpdir(), 'rl-package-'));
const ignore = join(tmp, 'vscodeignore');
writeFileSync(ignore, base.replace('!node_modules/onnxruntime-node/bin/**', `!node_modules/onnxruntime-node/bin/napi-v6/${os}/${arch}/**`));
try {
  execFileSync('node', ['scripts/build.mjs', '--production'], { cwd: root, stdio: 'inherit' });
  // The notices must name what this build bundles.
  execFileSync('node', ['scripts/notices.mjs'], { cwd: root, stdio: 'inherit' });
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  execFileSync(
    'node',
    [vsce, 'package', '--target', target, '--ignoreFile', ignore, '--readme-path', 'media/README.marketplace.md', '--out', out],
    { cwd: root, stdio: 'inherit' },
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
