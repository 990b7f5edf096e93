// Locations inside the installed package (dist/cli.js, dist/worker.js or src/ under tsx).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The package root: the nearest folder above this file holding package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return resolve(__dirname, '..');
}

/** The bundled needle organism, the model every command uses when --model is not given. */
export function defaultModelDir(): string {
  return join(packageRoot(), 'models', 'needle-organism-2k');
}
