// Paths tests use: the repo, the shared models beside it, and a throwaway cache per test run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const sharedModel = (name: 'needle-organism' | 'needle-organism-2k' | 'stories260K') => join(sharedDir, 'models', name);
export const bundledModel = join(repoRoot, 'models', 'needle-organism-2k');
export const tempDir = (prefix = 'rl-test-') => mkdtempSync(join(tmpdir(), prefix));
