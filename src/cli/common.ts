// What several commands share: the model flags and loading (with the engine's warnings printed),
// bounded reads of the files a user names, and the flag specs with their ranges.
import { join } from 'node:path';
import { loadModel, type EngineModel, type LoadOptions } from '../engine/index.js';
import { normalizeDtype } from '../engine/index.js';
import { MB, readTextFile } from '../shared/textFile.js';
import { defaultModelDir, packageRoot } from '../shared/paths.js';
import { oneLineText } from './oneLine.js';
import { UsageError, type FlagSpec, type FlagValues } from './args.js';
import type { CliIO } from './io.js';

/** Largest --prompt-file: far beyond any model's context, small enough to tokenize. */
export const MAX_PROMPT_BYTES = 16 * MB;
/** Largest --haystack file, and all of them together. */
export const MAX_HAYSTACK_BYTES = 64 * MB;

export const MODEL_FLAGS = {
  model: { type: 'string' },
  dtype: { type: 'string' },
} satisfies Record<string, FlagSpec>;
type ModelFlagValues = FlagValues<typeof MODEL_FLAGS>;

/** Flags that mean the same in every command, with their ranges. */
export const FLAGS = {
  maxNewTokens: { type: 'int', min: 1, max: 100_000 },
  threshold: { type: 'number', min: 0, max: 1 },
  maskMode: { type: 'string', choices: ['uniform', 'zero'] },
  maskScope: { type: 'string', choices: ['decode', 'all'] },
} satisfies Record<string, FlagSpec>;

/** Context lengths and depths of a grid: flag ranges (the model's context is checked once it is loaded). */
export const LENGTH_RANGE = { min: 1, max: 10_000_000 };
export const DEPTH_RANGE = { min: 0, max: 100 };

/** --dtype is checked before anything is loaded: an unknown one is a usage error. */
function dtypeFlag(flags: ModelFlagValues): string | undefined {
  const d = flags.dtype;
  if (d === undefined) return undefined;
  try {
    normalizeDtype(d);
  } catch (e) {
    throw new UsageError(`--dtype: ${(e as Error).message}`);
  }
  return d;
}

/**
 * The checks on model flags that need no model: call before reading other inputs, so that a
 * usage error (exit 2) wins over a file error (exit 1).
 */
export function checkModelFlags(flags: ModelFlagValues): void {
  dtypeFlag(flags);
}

/** Loads --model (default: the bundled organism); the engine's warnings go to stderr, one line each. */
export async function openModel(
  flags: ModelFlagValues,
  io: CliIO,
  extra: Pick<LoadOptions, 'executionProviders'> = {},
): Promise<EngineModel> {
  let lastFile = '';
  return loadModel(flags.model ?? defaultModelDir(), {
    ...extra,
    dtype: dtypeFlag(flags),
    onProgress: (p) => {
      if (p.stage === 'warning' && p.message) io.stderr(`warning: ${oneLineText(p.message)}\n`);
      else if (p.stage === 'download' && p.file && p.file !== lastFile) {
        lastFile = p.file;
        io.stderr(`downloading ${p.file}\n`);
      }
    },
  });
}

/** The --prompt-file text: a regular UTF-8 file of at most MAX_PROMPT_BYTES. */
export function readPromptFile(path: string): string {
  return readTextFile(path, { maxBytes: MAX_PROMPT_BYTES, what: '--prompt-file' });
}

/** The haystack texts: the files given, else the bundled public-domain Shakespeare. */
export function readHaystacks(files: string[] | undefined): string[] {
  const paths = files?.length ? files : [join(packageRoot(), 'data', 'haystack', 'shakespeare.txt')];
  let total = 0;
  return paths.map((p) => {
    const text = readTextFile(p, { maxBytes: MAX_HAYSTACK_BYTES - total, what: 'haystack' });
    total += Buffer.byteLength(text);
    return text;
  });
}

/** --template: a prompt with {context} and {question}, checked before anything runs. */
export function checkTemplateFlag(template: string | undefined): string | undefined {
  if (template === undefined) return undefined;
  const missing = ['{context}', '{question}'].filter((p) => !template.includes(p));
  if (missing.length) throw new UsageError(`--template must contain {context} and {question}; it has no ${missing.join(' and no ')}`);
  return template;
}
