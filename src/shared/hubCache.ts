// Where Hub downloads go. Not transformers.js's default cache: in a bundle that is a folder inside
// the installed package, which an update of the extension (or of the CLI) deletes with gigabytes
// of models in it. Imports nothing heavy: the extension host uses it to say where models go.
import { isDir } from './dirs.js';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

/** The folder name used inside the user's Hugging Face cache (transformers.js's file-cache layout). */
export const HUB_SUBFOLDER = 'transformers.js';

/** The user's Hugging Face folder: $HF_HOME, the parent of $HF_HUB_CACHE, or an existing ~/.cache/huggingface. */
export function huggingFaceHome(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.HF_HOME && isAbsolute(env.HF_HOME)) return env.HF_HOME;
  if (env.HF_HUB_CACHE && isAbsolute(env.HF_HUB_CACHE)) return dirname(env.HF_HUB_CACHE);
  const xdg = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : null;
  let home = env.HOME ?? '';
  try {
    if (env.HOME === undefined) home = homedir();
  } catch {
    // no home
  }
  const candidates = [xdg && join(xdg, 'huggingface'), home && isAbsolute(home) ? join(home, '.cache', 'huggingface') : null];
  for (const c of candidates) if (c && isDir(c)) return c;
  return null;
}

/**
 * Where a Hub model is downloaded: inside the user's Hugging Face cache when there is one
 * (<HF home>/transformers.js), else `fallback` (the CLI: its cache folder; the extension: its
 * global storage), else null (nowhere to put it).
 */
export function hubDownloadDir(fallback: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  const hf = huggingFaceHome(env);
  return hf ? join(hf, HUB_SUBFOLDER) : fallback;
}
