// Retrieval-head detection (Wu et al. 2024, retrieval_head_detection.py): for each needle case,
// greedy-decode with attention, score heads per step, count the case if ROUGE-1 recall > 50%.
import { RetrievalLensError, throwIfAborted } from '../engine/errors.js';
import type { LoadedModel } from '../engine/types.js';
import { summarize, DEFAULT_THRESHOLD } from './aggregate.js';
import { CaseBuilder, choosePromptFormat, type NeedleCase } from './cases.js';
import { checkNeedles, DEFAULT_NEEDLES } from './needles.js';
import { rouge1Recall } from './rouge.js';
import { CaseScorer } from './score.js';
import type { CaseResult, DetectionSettings, Needle, ScoresFile } from './types.js';

export interface DetectOptions {
  haystack: string[];
  needles?: Needle[];
  lengths: number[];
  depths: number[];
  maxNewTokens?: number;
  threshold?: number;
  template?: string;
  needleBos?: boolean;
}

export interface Progress {
  done: number;
  total: number;
  etaMs: number;
  last?: CaseResult;
}

export interface Hooks {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export const DEFAULT_DEPTHS = [0, 25, 50, 75, 100];
/** Detection uses the first three bundled needles; ablation draws its fresh cases from the others. */
export const DETECTION_NEEDLES = 3;
const SUCCESS_RECALL = 0.5;

/** Lengths a grid can use: within the model's context, and no longer than the text can fill. */
export function defaultLengths(contextLength: number, haystackTokens: number, count = 5): number[] {
  const top = Math.min(contextLength - 64, Math.max(haystackTokens, 256));
  const low = Math.min(256, top);
  const out = Array.from({ length: count }, (_, i) => Math.round(low + ((top - low) * i) / Math.max(count - 1, 1)));
  return [...new Set(out)];
}

/** Runs one case: generation with attention, the per-step score, and the success test. */
export async function runCase(model: LoadedModel, c: NeedleCase, maxNewTokens: number, signal?: AbortSignal): Promise<CaseResult> {
  const { info, tokenizer } = model;
  const scorer = new CaseScorer(info.layers, info.heads, c.promptIds, c.span);
  const stops = [...info.eosTokenIds, ...(tokenizer.newlineTokenId !== null ? [tokenizer.newlineTokenId] : [])];
  const result = await model.generate(c.promptIds, {
    maxNewTokens,
    stopTokens: stops,
    attention: true,
    signal,
    onStep: (step) => scorer.step(step.attention!.rows, step.attention!.kvLen, step.token),
  });
  const response = result.text.trim();
  const recall = rouge1Recall(c.needle.real_needle, response);
  return {
    length: c.length,
    depth: c.depth,
    needleDepth: c.needleDepth,
    needleId: c.needle.id,
    promptTokens: c.promptIds.length,
    span: c.span,
    success: recall > SUCCESS_RECALL,
    rougeRecall: recall,
    response,
    question: c.needle.question,
    scores: scorer.toMatrix(),
  };
}

export function validateGrid(model: LoadedModel, opts: Pick<DetectOptions, 'haystack' | 'lengths' | 'depths' | 'maxNewTokens' | 'threshold'>): void {
  if (opts.maxNewTokens !== undefined && !(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) {
    throw new RetrievalLensError('BAD_INPUT', `max new tokens must be a positive integer, got ${opts.maxNewTokens}`);
  }
  if (opts.threshold !== undefined && !(typeof opts.threshold === 'number' && opts.threshold >= 0 && opts.threshold <= 1)) {
    throw new RetrievalLensError('BAD_INPUT', `the retrieval-score threshold must be between 0 and 1, got ${opts.threshold}`);
  }
  const badLen = opts.lengths.filter((l) => !(Number.isInteger(l) && l > 0));
  if (badLen.length) throw new RetrievalLensError('BAD_INPUT', `context lengths must be positive integers, got ${badLen.join(', ')}`);
  if (!opts.haystack.length || opts.haystack.every((h) => !h.trim())) throw new RetrievalLensError('EMPTY_INPUT', 'the haystack is empty: select some text or give --haystack files');
  if (!opts.lengths.length || !opts.depths.length) throw new RetrievalLensError('BAD_INPUT', 'the grid needs at least one length and one depth');
  const ctx = model.info.contextLength;
  const tooLong = opts.lengths.filter((l) => l > ctx);
  if (tooLong.length) throw new RetrievalLensError('CONTEXT_TOO_LONG', `context length(s) ${tooLong.join(', ')} exceed the model's context of ${ctx} tokens`);
  const badDepth = opts.depths.filter((d) => !(d >= 0 && d <= 100));
  if (badDepth.length) throw new RetrievalLensError('BAD_INPUT', `depths are percentages 0..100, got ${badDepth.join(', ')}`);
}

/** Builds and runs cases over lengths x depths x needles, reporting progress after each. */
export async function runGrid(model: LoadedModel, opts: DetectOptions, hooks: Hooks, needles: Needle[]): Promise<CaseResult[]> {
  validateGrid(model, opts);
  const fmt = choosePromptFormat(opts.template, model.info.template, model.info.hasChatTemplate);
  const builder = new CaseBuilder(model.tokenizer, opts.haystack, fmt, { needleBos: opts.needleBos, bosTokenId: model.info.bosTokenId });
  const total = opts.lengths.length * opts.depths.length * needles.length;
  const results: CaseResult[] = [];
  const t0 = Date.now();
  for (const length of opts.lengths) {
    for (const depth of opts.depths) {
      for (const needle of needles) {
        throwIfAborted(hooks.signal);
        const c = builder.build(length, depth, needle);
        const r = await runCase(model, c, opts.maxNewTokens ?? 50, hooks.signal);
        results.push(r);
        const elapsed = Date.now() - t0;
        hooks.onProgress?.({ done: results.length, total, etaMs: (elapsed / results.length) * (total - results.length), last: r });
      }
    }
  }
  return results;
}

export async function runDetection(model: LoadedModel, opts: DetectOptions, hooks: Hooks = {}): Promise<ScoresFile> {
  if (opts.needles?.length) checkNeedles(opts.needles);
  const needles = opts.needles?.length ? opts.needles : DEFAULT_NEEDLES.slice(0, DETECTION_NEEDLES);
  const cases = await runGrid(model, opts, hooks, needles);
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  const settings: DetectionSettings = {
    lengths: opts.lengths,
    depths: opts.depths,
    needles: needles.map((n) => n.id),
    maxNewTokens: opts.maxNewTokens ?? 50,
    threshold,
    template: choosePromptFormat(opts.template, model.info.template, model.info.hasChatTemplate).template,
    haystack: opts.haystack.map((h) => `${h.length} characters`),
    needleBos: Boolean(opts.needleBos),
  };
  const { info } = model;
  return summarize({ id: info.id, layers: info.layers, heads: info.heads, kvHeads: info.kvHeads }, settings, cases, threshold);
}
