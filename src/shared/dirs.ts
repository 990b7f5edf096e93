// mkdir -p without Node's `recursive: true`, which loops forever where mkdir answers ENOENT for a
// folder whose parent exists (under /proc, e.g. HOME=/proc/self): an unusable cache or download
// folder must fail with an error, never hang.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** True for an existing folder (following symlinks); false for anything else, or nothing. */
export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function makeDirs(path: string): void {
  const missing: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      if (statSync(p).isDirectory()) break;
      throw Object.assign(new Error(`ENOTDIR: not a folder, mkdir '${p}'`), { code: 'ENOTDIR' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      // Made meanwhile by another process: fine; anything else is the caller's error.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory()) throw e;
    }
  }
}
