// DeCoRe (Gema et al. 2024, "Decoding by Contrasting Retrieval Heads"): the model with its
// retrieval heads masked is a model that hallucinates more, so what it prefers is played down:
//   next = argmax_t (1 + a) log p_base(t) - a log p_masked(t)
// with a = the entropy of p_base (nats; DeCoRe's entropy variant: contrast more where the model is
// unsure) or a fixed a. a = 0 is greedy decoding of the base model. Both models are fed the chosen
// token, so they decode side by side over the same text.
import { RetrievalLensError, throwIfAborted } from '../shared/errors.js';
import type { HeadRef, LoadedModel, MaskMode, MaskScope } from '../engine/index.js';
import { answerText, argmaxOf } from './decoding.js';

/** Natural-log probabilities of logits (stable: shifted by the max). */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** Entropy in nats of a distribution given as log-probabilities. */
export function entropy(logp: Float64Array): number {
  let h = 0;
  for (let i = 0; i < logp.length; i++) if (logp[i] > -Infinity) h -= Math.exp(logp[i]) * logp[i];
  return Math.max(0, h);
}

/** 'entropy': a is the entropy of p_base at each step; a number: that a at every step. */
export type DecoreAlpha = 'entropy' | number;

export interface DecoreChoice {
  /** The token DeCoRe picks. */
  token: number;
  /** The a used at this step. */
  alpha: number;
  /** Greedy token of the base model and of the masked model. */
  baseToken: number;
  maskedToken: number;
}

/** One step of the rule on the two models' logits. */
export function decoreChoice(baseLogits: ArrayLike<number>, maskedLogits: ArrayLike<number>, alpha: DecoreAlpha): DecoreChoice {
  if (baseLogits.length !== maskedLogits.length)
    throw new RetrievalLensError('BAD_INPUT', `the two models' vocabularies differ: ${baseLogits.length} vs ${maskedLogits.length}`);
  if (alpha !== 'entropy' && !(Number.isFinite(alpha) && alpha >= 0))
    throw new RetrievalLensError('BAD_INPUT', `DeCoRe's a must be 0 or more, got ${alpha}`);
  const baseToken = argmaxOf(baseLogits);
  const maskedToken = argmaxOf(maskedLogits);
  const lb = logSoftmax(baseLogits);
  const lm = logSoftmax(maskedLogits);
  if (lb.some((v) => v !== v) || lm.some((v) => v !== v))
    throw new RetrievalLensError('RUNTIME', 'the model computed NaN logits: its weights are damaged, or this dtype overflows here');
  const a = alpha === 'entropy' ? entropy(lb) : alpha;
  // a = 0 is the base model's greedy choice, exactly (no rounding through the log-probabilities).
  if (a === 0) return { token: baseToken, alpha: 0, baseToken, maskedToken };
  let best = -1;
  let bestScore = -Infinity;
  for (let t = 0; t < lb.length; t++) {
    // A token the base model rules out stays out, whatever the masked model thinks of it.
    if (lb[t] === -Infinity) continue;
    const s = (1 + a) * lb[t] - a * lm[t];
    if (best < 0 || s > bestScore) {
      best = t;
      bestScore = s;
    }
  }
  return { token: best < 0 ? baseToken : best, alpha: a, baseToken, maskedToken };
}

export interface DecoreOptions {
  /** Heads masked in the contrasting model. */
  heads: HeadRef[];
  mode?: MaskMode;
  scope?: MaskScope;
  alpha?: DecoreAlpha;
  maxNewTokens: number;
  stopTokens?: number[];
  signal?: AbortSignal;
  onStep?: (step: DecoreChoice, index: number) => void;
}

export interface DecoreResult {
  tokenIds: number[];
  text: string;
  steps: DecoreChoice[];
  stoppedBy: 'eos' | 'stop-token' | 'max-tokens';
}

/**
 * DeCoRe decoding of a prompt: the base model and the masked one each keep a KV cache; with scope
 * "decode" the masked one starts from a copy of the base's prefill (the prompt is read unmasked),
 * with scope "all" it reads the prompt with its heads masked too.
 */
export async function decoreGenerate(model: LoadedModel, promptIds: number[], opts: DecoreOptions): Promise<DecoreResult> {
  const { info } = model;
  if (!opts.heads.length) throw new RetrievalLensError('BAD_INPUT', 'DeCoRe needs at least one head to mask');
  if (promptIds.length === 0) throw new RetrievalLensError('EMPTY_INPUT', 'the prompt is empty');
  if (promptIds.length >= info.contextLength)
    throw new RetrievalLensError(
      'CONTEXT_TOO_LONG',
      `the prompt has ${promptIds.length} tokens but the model's context length is ${info.contextLength}`,
    );
  const mask = { heads: opts.heads, mode: opts.mode ?? 'zero', scope: opts.scope ?? 'all' };
  const alpha = opts.alpha ?? 'entropy';
  const head = promptIds.slice(0, -1);
  const base = model.decoder();
  await base.prefill(head, opts.signal);
  let masked;
  if (mask.scope === 'all') {
    masked = model.decoder({ mask });
    await masked.prefill(head, opts.signal);
  } else masked = base.fork({ mask });
  const stops = new Set(opts.stopTokens ?? info.eosTokenIds);
  const eos = new Set(info.eosTokenIds);
  const maxNew = Math.min(opts.maxNewTokens, info.contextLength - promptIds.length);
  const tokenIds: number[] = [];
  const steps: DecoreChoice[] = [];
  let stoppedBy: DecoreResult['stoppedBy'] = 'max-tokens';
  let input = promptIds[promptIds.length - 1];
  for (let i = 0; i < maxNew; i++) {
    throwIfAborted(opts.signal);
    const b = await base.step(input, { signal: opts.signal });
    const m = await masked.step(input, { signal: opts.signal });
    const choice = decoreChoice(b.logits, m.logits, alpha);
    opts.onStep?.(choice, i);
    steps.push(choice);
    tokenIds.push(choice.token);
    if (stops.has(choice.token)) {
      stoppedBy = eos.has(choice.token) ? 'eos' : 'stop-token';
      break;
    }
    input = choice.token;
  }
  return { tokenIds, text: answerText(model.tokenizer, tokenIds, info.eosTokenIds), steps, stoppedBy };
}
