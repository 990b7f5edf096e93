// generate --decore: the flags' rules and the run, kept beside generate.ts so that command stays
// one screen. The masked model masks --mask's heads when given, else the scores file's top
// --decore-k heads, else its detected retrieval heads.
import type { EngineModel, HeadRef, MaskMode, MaskScope } from '../engine/index.js';
import { decoreGenerate, type DecoreAlpha } from '../method/decore.js';
import { readScoresFile } from '../method/formats.js';
import { pickHeads } from '../method/heads.js';
import { UsageError } from './args.js';
import type { CliIO } from './io.js';

export const DECORE_FLAGS = {
  decore: { type: 'boolean' },
  'decore-k': { type: 'int', min: 1, max: 100_000 },
  'decore-alpha': { type: 'number', min: 0, max: 100 },
  scores: { type: 'string' },
} as const;

interface DecoreFlags {
  decore?: boolean;
  'decore-k'?: number;
  'decore-alpha'?: number;
  scores?: string;
  mask?: string;
  temperature?: number;
  attention?: boolean;
}

/** Usage errors (exit 2) before anything is read. */
export function checkDecoreFlags(flags: DecoreFlags): void {
  // Without --decore, --scores may name the heads of generate's --attention table: generate checks it.
  const own = (['decore-k', 'decore-alpha'] as const).filter((f) => flags[f] !== undefined);
  if (!flags.decore) {
    if (own.length) throw new UsageError(`--${own[0]} applies to DeCoRe decoding: give --decore too`);
    return;
  }
  if (flags.temperature) throw new UsageError('--decore decodes greedily: leave out --temperature');
  if (flags.attention) throw new UsageError('--attention is not available with --decore');
  // An empty --mask (a script's empty list) names no heads: the scores file's are used.
  if (flags.mask !== undefined && flags.mask.trim() !== '') {
    if (flags['decore-k'] !== undefined) throw new UsageError('give the heads to contrast with --mask or --decore-k, not both');
    if (flags.scores !== undefined) throw new UsageError('--mask names the heads to contrast: --scores is not used with it');
  } else if (flags.scores === undefined) {
    throw new UsageError('--decore needs --scores FILE (its retrieval heads are masked) or --mask L:H,...');
  }
}

export interface DecoreStepJson {
  token: number;
  text: string;
  position: number;
  alpha: number;
  /** Present when the base or the masked model's greedy token differs from DeCoRe's choice. */
  base?: { token: number; text: string };
  masked?: { token: number; text: string };
}

export async function runDecore(
  model: EngineModel,
  ids: number[],
  flags: DecoreFlags & { 'max-new-tokens'?: number },
  mask: { heads: HeadRef[]; mode?: string; scope?: string },
  maxNewTokens: number,
  io: CliIO,
) {
  const { info, tokenizer } = model;
  const heads = mask.heads.length
    ? mask.heads
    : pickHeads(readScoresFile(flags.scores!), info, flags['decore-k']).map(({ layer, head }) => ({ layer, head }));
  const alpha: DecoreAlpha = flags['decore-alpha'] ?? 'entropy';
  const mode = (mask.mode ?? 'zero') as MaskMode;
  const scope = (mask.scope ?? 'all') as MaskScope;
  const text = (t: number) => tokenizer.decode([t]);
  const steps: DecoreStepJson[] = [];
  const r = await decoreGenerate(model, ids, {
    heads,
    mode,
    scope,
    alpha,
    maxNewTokens,
    signal: io.signal,
    onStep: (c, i) => {
      const s: DecoreStepJson = { token: c.token, text: text(c.token), position: ids.length - 1 + i, alpha: c.alpha };
      if (c.baseToken !== c.token || c.maskedToken !== c.token) {
        s.base = { token: c.baseToken, text: text(c.baseToken) };
        s.masked = { token: c.maskedToken, text: text(c.maskedToken) };
      }
      steps.push(s);
    },
  });
  return { result: r, steps, decore: { heads, mode, scope, alpha } };
}
