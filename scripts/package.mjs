// npm run package [-- --target linux-x64]: a VSIX for one platform, carrying only that platform's
// onnxruntime binaries (all platforms together make a ~300 MB package).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const arg = process.argv.indexOf('--target');
const target = arg > 0 ? process.argv[arg + 1] : `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
const [os, arch] = target.split('-');
const platforms = { linux: ['x64', 'arm64'], darwin: ['arm64'], win32: ['x64', 'arm64'] };
if (!platforms[os]?.includes(arch)) throw new Error(`no onnxruntime-node binaries for ${target}`);

// vsce lets a negated pattern win over any exclusion, so the platform goes into the negation itself.
const ignore = join(root, '.vscodeignore.package');
const base = readFileSync(join(root, '.vscodeignore'), 'utf8');
if (!base.includes('!node_modules/onnxruntime-node/bin/**'))
  throw new Error('.vscodeignore no longer has the onnxruntime bin line this script narrows');
writeFileSync(ignore, base.replace('!node_modules/onnxruntime-node/bin/**', `!node_modules/onnxruntime-node/bin/napi-v6/${os}/${arch}/**`));
try {
  execFileSync('node', ['scripts/build.mjs', '--production'], { cwd: root, stdio: 'inherit' });
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  execFileSync(
    'node',
    [
      vsce,
      'package',
      '--target',
      target,
      '--ignoreFile',
      ignore,
      '--allow-missing-repository',
      '--skip-license',
      '--out',
      join(root, `retrieval-lens-${target}.vsix`),
    ],
    { cwd: root, stdio: 'inherit' },
  );
} finally {
  rmSync(ignore, { force: true });
}
