// Retrieval-head detection (Wu et al. 2024, retrieval_head_detection.py): for each needle case,
// greedy-decode with attention, score heads per step, count the case if ROUGE-1 recall > 50%.
import { RetrievalLensError, throwIfAborted } from '../shared/errors.js';
import type { LoadedModel, PrefixCacheHandle } from '../engine/index.js';
import { caseKey, executionOrder, planCases, type GridCase } from './grid.js';
import { summarize } from './aggregate.js';
import { CaseBuilder, choosePromptFormat, type NeedleCase } from './cases.js';
import { checkNeedles, DEFAULT_NEEDLES } from './needles.js';
import { rouge1Recall } from './rouge.js';
import { CaseScorer } from './score.js';
import type { CaseResult, DetectionSettings, Needle, ScoresFile } from './types.js';
import { DEFAULT_DEPTHS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_THRESHOLD, DETECTION_NEEDLES, SUCCESS_RECALL } from './defaults.js';
export { DEFAULT_DEPTHS, DETECTION_NEEDLES };

export interface DetectOptions {
  haystack: string[];
  needles?: Needle[];
  lengths: number[];
  depths: number[];
  maxNewTokens?: number;
  threshold?: number;
  template?: string;
  needleBos?: boolean;
  /** Serve shared haystack prefixes from a KV cache (default); false prefills every case whole. */
  reusePrefix?: boolean;
  /**
   * Decode a length's cases in batches (default, where the model allows; as many as the engine's
   * KV budget holds, the first batch one cell so a map comes early); false: one by one.
   */
  batch?: boolean;
}

export interface GridProgress {
  done: number;
  total: number;
  etaMs: number;
  last?: CaseResult;
}

export interface Hooks {
  onProgress?: (p: GridProgress) => void;
  /** Each case's result as soon as it is scored (results stream; the grid's order is restored at the end). */
  onCase?: (r: CaseResult) => void;
  /** The scores file of the cases finished so far, after each case (runDetection only): a map before the grid ends. */
  onPartial?: (s: ScoresFile, done: number, total: number) => void;
  /** A batch (cases of one length, decoded together; deepest needle first) is about to run. */
  onStart?: (batch: { length: number; depths: number[]; cases: number }) => void;
  signal?: AbortSignal;
  /** Filled in as the grid runs: prompt positions served from the shared-prefix cache vs prefilled. */
  stats?: { reusedPositions: number; prefilledPositions: number };
}

/** Lengths a grid can use: within the model's context, and no longer than the text can fill. */
export function defaultLengths(contextLength: number, haystackTokens: number, count = 5): number[] {
  const top = Math.min(contextLength - 64, Math.max(haystackTokens, 256));
  const low = Math.min(256, top);
  const out = Array.from({ length: count }, (_, i) => Math.round(low + ((top - low) * i) / Math.max(count - 1, 1)));
  return [...new Set(out)];
}

function caseResult(c: NeedleCase, text: string, scorer: CaseScorer): CaseResult {
  const response = text.trim();
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

/**
 * Runs cases together (a grid cell's needles): generation with attention, the per-step score and
 * the success test of each. The engine decodes them as one batch where the graph allows.
 */
export async function runCases(
  model: LoadedModel,
  cases: NeedleCase[],
  maxNewTokens: number,
  signal?: AbortSignal,
  prefix?: PrefixCacheHandle,
): Promise<CaseResult[]> {
  const { info, tokenizer } = model;
  const scorers = cases.map((c) => new CaseScorer(info.layers, info.heads, c.promptIds, c.span));
  const stops = [...info.eosTokenIds, ...(tokenizer.newlineTokenId !== null ? [tokenizer.newlineTokenId] : [])];
  const results = await model.generateBatch(
    cases.map((c) => c.promptIds),
    {
      maxNewTokens,
      stopTokens: stops,
      attention: true,
      signal,
      prefix,
      onRowStep: (step, _i, row) => scorers[row].step(step.attention!.rows, step.attention!.kvLen, step.token),
    },
  );
  return cases.map((c, i) => caseResult(c, results[i].text, scorers[i]));
}

/** Runs one case: generation with attention, the per-step score, and the success test. */
export async function runCase(
  model: LoadedModel,
  c: NeedleCase,
  maxNewTokens: number,
  signal?: AbortSignal,
  prefix?: PrefixCacheHandle,
): Promise<CaseResult> {
  return (await runCases(model, [c], maxNewTokens, signal, prefix))[0];
}

export function validateGrid(
  model: LoadedModel,
  opts: Pick<DetectOptions, 'haystack' | 'lengths' | 'depths' | 'maxNewTokens' | 'threshold'>,
): void {
  if (opts.maxNewTokens !== undefined && !(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) {
    throw new RetrievalLensError('BAD_INPUT', `max new tokens must be a positive integer, got ${opts.maxNewTokens}`);
  }
  if (opts.threshold !== undefined && !(typeof opts.threshold === 'number' && opts.threshold >= 0 && opts.threshold <= 1)) {
    throw new RetrievalLensError('BAD_INPUT', `the retrieval-score threshold must be between 0 and 1, got ${opts.threshold}`);
  }
  const badLen = opts.lengths.filter((l) => !(Number.isInteger(l) && l > 0));
  if (badLen.length) throw new RetrievalLensError('BAD_INPUT', `context lengths must be positive integers, got ${badLen.join(', ')}`);
  if (!opts.haystack.length || opts.haystack.every((h) => !h.trim()))
    throw new RetrievalLensError('EMPTY_INPUT', 'the haystack is empty: select some text or give --haystack files');
  if (!opts.lengths.length || !opts.depths.length)
    throw new RetrievalLensError('BAD_INPUT', 'the grid needs at least one length and one depth');
  const ctx = model.info.contextLength;
  const tooLong = opts.lengths.filter((l) => l > ctx);
  if (tooLong.length)
    throw new RetrievalLensError('CONTEXT_TOO_LONG', `context length(s) ${tooLong.join(', ')} exceed the model's context of ${ctx} tokens`);
  const badDepth = opts.depths.filter((d) => !(d >= 0 && d <= 100));
  if (badDepth.length) throw new RetrievalLensError('BAD_INPUT', `depths are percentages 0..100, got ${badDepth.join(', ')}`);
}

/** Which cases of the grid to run now: a shard's, or those a resumed run has not done yet. */
export interface GridSelection {
  cases?: GridCase[];
  /** Results already computed (a resumed run): reported as done, returned with the rest. */
  done?: CaseResult[];
}

/**
 * Builds and runs cases over lengths x depths x needles (or the selection), reporting progress and
 * each result as it comes. Runs longest prompts first so one shared-prefix KV cache serves the
 * grid; returns the results in the grid's canonical order.
 */
export async function runGrid(
  model: LoadedModel,
  opts: DetectOptions,
  hooks: Hooks,
  needles: Needle[],
  selection: GridSelection = {},
): Promise<CaseResult[]> {
  validateGrid(model, opts);
  const fmt = choosePromptFormat(opts.template, model.info.template, model.info.hasChatTemplate);
  const builder = new CaseBuilder(model.tokenizer, opts.haystack, fmt, { needleBos: opts.needleBos, bosTokenId: model.info.bosTokenId });
  const planned = selection.cases ?? planCases(opts.lengths, opts.depths, needles);
  const done = new Map((selection.done ?? []).map((r) => [caseKey(r), r] as const));
  const todo = executionOrder(planned.filter((c) => !done.has(caseKey({ length: c.length, depth: c.depth, needleId: c.needle.id }))));
  const total = planned.length;
  const prefix = opts.reusePrefix === false ? undefined : model.prefixCache();
  const t0 = Date.now();
  let ran = 0;
  const maxNew = opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const batches = decodingBatches(todo, (length) => (opts.batch === false ? 1 : model.batchRows(length + maxNew)));
  const built = new Map<GridCase, NeedleCase>();
  const build = (g: GridCase) => built.get(g) ?? built.set(g, builder.build(g.length, g.depth, g.needle)).get(g)!;
  for (const [k, batch] of batches.entries()) {
    throwIfAborted(hooks.signal);
    // Once the first map is out, the prefix cache is told the rest of the grid's prompts, so it
    // keeps the prefixes they will reuse (building them all first would delay that map).
    if (k === 1) prefix?.expect(batches.slice(1).flatMap((b) => b.map((g) => build(g).promptIds)));
    hooks.onStart?.({ length: batch[0].length, depths: [...new Set(batch.map((g) => g.depth))], cases: batch.length });
    const cases = batch.map(build);
    batch.forEach((g) => built.delete(g));
    const rs = await runCases(model, cases, maxNew, hooks.signal, prefix);
    if (hooks.stats && prefix) Object.assign(hooks.stats, { reusedPositions: prefix.reused, prefilledPositions: prefix.computed });
    for (const r of rs) {
      done.set(caseKey(r), r);
      ran++;
      hooks.onCase?.(r);
      const elapsed = Date.now() - t0;
      hooks.onProgress?.({ done: done.size, total, etaMs: (elapsed / ran) * (todo.length - ran), last: r });
    }
  }
  return planned.map((g) => done.get(caseKey({ length: g.length, depth: g.depth, needleId: g.needle.id }))!).filter(Boolean);
}

/**
 * Splits cases (in execution order) into decoding batches: consecutive cases of one length, at most
 * `rows(length)` of them. The first batch holds one cell (a length and depth) only: its results,
 * the first map, come after one cell's work rather than a whole length's.
 */
export function decodingBatches(todo: GridCase[], rows: (length: number) => number): GridCase[][] {
  const batches: GridCase[][] = [];
  for (const g of todo) {
    const last = batches[batches.length - 1];
    const fits = last && last[0].length === g.length && last.length < rows(g.length) && (batches.length > 1 || last[0].depth === g.depth);
    if (fits) last.push(g);
    else batches.push([g]);
  }
  return batches;
}

/** What a detection run records of how it ran; equal settings mean comparable (and mergeable) results. */
export function detectionSettings(model: LoadedModel, opts: DetectOptions, needles: Needle[]): DetectionSettings {
  return {
    lengths: [...opts.lengths].sort((a, b) => a - b),
    depths: [...opts.depths].sort((a, b) => a - b),
    needles: needles.map((n) => n.id),
    maxNewTokens: opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
    threshold: opts.threshold ?? DEFAULT_THRESHOLD,
    template: choosePromptFormat(opts.template, model.info.template, model.info.hasChatTemplate).template,
    haystack: opts.haystack.map((h) => `${h.length} characters`),
    needleBos: Boolean(opts.needleBos),
  };
}

export function detectionNeedles(opts: Pick<DetectOptions, 'needles'>): Needle[] {
  if (opts.needles?.length) checkNeedles(opts.needles);
  return opts.needles?.length ? opts.needles : DEFAULT_NEEDLES.slice(0, DETECTION_NEEDLES);
}

export function scoresModel(model: LoadedModel): ScoresFile['model'] {
  const { info } = model;
  return { id: info.id, layers: info.layers, heads: info.heads, kvHeads: info.kvHeads, sha256: model.instrumentation.sourceSha256 };
}

export async function runDetection(model: LoadedModel, opts: DetectOptions, hooks: Hooks = {}): Promise<ScoresFile> {
  const needles = detectionNeedles(opts);
  const settings = detectionSettings(model, opts, needles);
  const onPartial = hooks.onPartial;
  const sofar: CaseResult[] = [];
  const streaming: Hooks = onPartial
    ? {
        ...hooks,
        onProgress: (p) => {
          hooks.onProgress?.(p);
          if (p.last) sofar.push(p.last);
          onPartial(summarize(scoresModel(model), settings, sofar, settings.threshold), p.done, p.total);
        },
      }
    : hooks;
  const cases = await runGrid(model, opts, streaming, needles);
  return summarize(scoresModel(model), settings, cases, settings.threshold);
}
