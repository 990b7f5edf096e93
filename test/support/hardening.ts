// What both hardening test files share: a cache and work folder of their own (set before any
// model loads), the models they break copies of, and small edits of a model folder's JSON files.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedModel, tempDir } from './paths.js';

export const cache = tempDir('rl-hardening-cache-');
process.env.RETRIEVAL_LENS_CACHE = cache;
export const stories = sharedModel('stories260K');
export const organism = sharedModel('needle-organism');
export const work = tempDir('rl-hardening-');
export const isRoot = process.getuid?.() === 0;

function patchJson(dir: string, file: string, patch: Record<string, unknown>): void {
  const p = join(dir, file);
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), ...patch }));
}

export const setConfig = (dir: string, patch: Record<string, unknown>): void => patchJson(dir, 'config.json', patch);
export const setTokenizerConfig = (dir: string, patch: Record<string, unknown>): void => patchJson(dir, 'tokenizer_config.json', patch);

/** A short greedy generation's arguments, and the token ids it printed. */
export const gen = (model: string, ...more: string[]): string[] => [
  'generate',
  '--model',
  model,
  '--prompt',
  'Once upon a time',
  '--max-new-tokens',
  '6',
  '--json',
  ...more,
];
export const tokens = (out: string): number[] => JSON.parse(out).tokenIds as number[];
