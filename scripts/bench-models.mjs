// npm run bench:models -- --out DIR [--shapes qwen2.5-0.5b,llama-3.2-1b] [--forms plain,q4,genai,genai-int4] [--layers N]
// Builds random-weight models with the real architecture shapes of Qwen2.5-0.5B and Llama-3.2-1B,
// in the forms users have, with the repo's fixture generator (test/fixtures/models/generate.py):
// speed does not depend on the weights' values. Models over 2 GB keep their weights in external
// data. Never committed; benchmark them with `npm run bench -- --model DIR/<shape>/<form>`.
// Needs the Python venv of test/fixtures/models/README.md (about 8 min and 8 GB of memory for the
// 0.5B shape, 25-30 min and 16 GB for the 1B).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const argv = process.argv.slice(2);
const value = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const out = value('out');
if (!out) {
  process.stderr.write(
    'usage: npm run bench:models -- --out DIR [--shapes qwen2.5-0.5b,llama-3.2-1b] [--forms plain,q4,genai,genai-int4] [--layers N]\n',
  );
  process.exit(2);
}
const root = resolve(new URL('..', import.meta.url).pathname);
const python = [join(root, '.venv', 'bin', 'python'), join(root, '.venv', 'Scripts', 'python.exe')].find(existsSync);
if (!python) {
  process.stderr.write(
    'error: no Python venv in .venv; create it as test/fixtures/models/README.md says:\n' +
      '  python3 -m venv .venv && .venv/bin/pip install "torch==2.13.0+cpu" transformers onnx onnxruntime onnxscript\n',
  );
  process.exit(1);
}
const forms = value('forms', 'plain,q4,genai,genai-int4');
for (const shape of value('shapes', 'qwen2.5-0.5b,llama-3.2-1b').split(',')) {
  const dir = resolve(out, shape);
  const args = [join(root, 'test', 'fixtures', 'models', 'generate.py'), '--shape', shape, '--forms', forms, '--out', dir];
  const layers = value('layers');
  if (layers) args.push('--layers', layers);
  process.stdout.write(`building ${shape} (${forms}) into ${dir}\n`);
  const r = spawnSync(python, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`error: the generator failed for ${shape} (exit ${r.status})\n`);
    process.exit(1);
  }
}
