// Running the detectors beside the paper's on a loaded model: QRHead over the same needle grid
// (prefill to the question, then the question read with every token's rows exposed; no generation), and
// echo / induction over repeated random-token sequences. Both write the paper's scores format.
import { RetrievalLensError, throwIfAborted } from '../../shared/errors.js';
import type { LoadedModel } from '../../engine/index.js';
import { summarize } from '../aggregate.js';
import { CaseBuilder, choosePromptFormat } from '../cases.js';
import { detectionNeedles, detectionSettings, scoresModel, validateGrid, type DetectOptions, type Hooks } from '../detect.js';
import { planCases } from '../grid.js';
import { DEFAULT_THRESHOLD, PATTERN_BLOCK_LENGTH, PATTERN_REPEATS, PATTERN_SEED, PATTERN_TRIALS } from '../defaults.js';
import type { CaseResult, Needle, ScoresFile, ScoresSettings } from '../types.js';
import { QueryFocusScorer } from './qrhead.js';
import { PatternScorer, repeatedRandomSequence, type PatternKind } from './pattern.js';
import { commonPrefix, lexicographicOrder, SharedPrefixes } from './prefixes.js';

/** What a QRHead run records: the grid's settings (no decoding, so no max new tokens) and the method. */
export function qrheadSettings(model: LoadedModel, opts: DetectOptions, needles: Needle[]): ScoresSettings {
  const { maxNewTokens: _unused, ...grid } = detectionSettings(model, opts, needles);
  return { method: 'qrhead', ...grid };
}

/**
 * QRHead scores of every case of the grid, in the grid's canonical order. Cases run in the
 * lexicographic order of their prompts so that shared prefixes are prefilled once (prefixes.ts).
 */
export async function runQrheadGrid(model: LoadedModel, opts: DetectOptions, hooks: Hooks, needles: Needle[]): Promise<CaseResult[]> {
  validateGrid(model, opts);
  const { layers, heads } = model.info;
  const fmt = choosePromptFormat(opts.template, model.info.template, model.info.hasChatTemplate);
  const builder = new CaseBuilder(model.tokenizer, opts.haystack, fmt, {
    needleBos: opts.needleBos,
    bosTokenId: model.info.bosTokenId,
    questionSpan: true,
  });
  const planned = planCases(opts.lengths, opts.depths, needles);
  const built = planned.map((g) => builder.build(g.length, g.depth, g.needle));
  const order = lexicographicOrder(built.map((c) => c.promptIds));
  const prefixes = new SharedPrefixes(model);
  const results: CaseResult[] = new Array(built.length);
  const t0 = Date.now();
  for (let i = 0; i < order.length; i++) {
    throwIfAborted(hooks.signal);
    const c = built[order[i]];
    const [q0, q1] = c.questionSpan!;
    const next = i + 1 < order.length ? commonPrefix(c.promptIds, built[order[i + 1]].promptIds) : 0;
    const { dec, at } = await prefixes.take(c.promptIds, Math.min(next, q0), hooks.signal);
    // The rest of the prompt up to the question's end in one prefill that exposes the question's rows.
    const rows = await dec.prefillRows(c.promptIds.slice(at, q1), { rows: q1 - q0, signal: hooks.signal });
    prefixes.prefilled += q1 - at;
    const scorer = new QueryFocusScorer(layers, heads, c.span);
    for (const r of rows) scorer.step(r.rows, r.kvLen);
    const r: CaseResult = {
      length: c.length,
      depth: c.depth,
      needleDepth: c.needleDepth,
      needleId: c.needle.id,
      promptTokens: c.promptIds.length,
      span: c.span,
      success: true,
      rougeRecall: 0,
      response: '',
      question: c.needle.question,
      questionSpan: [q0, q1],
      scores: scorer.toMatrix(),
    };
    results[order[i]] = r;
    hooks.onCase?.(r);
    const elapsed = Date.now() - t0;
    hooks.onProgress?.({ done: i + 1, total: order.length, etaMs: (elapsed / (i + 1)) * (order.length - i - 1), last: r });
  }
  if (hooks.stats) Object.assign(hooks.stats, { prefilledPositions: prefixes.prefilled });
  return results;
}

export async function runQrheadDetection(model: LoadedModel, opts: DetectOptions, hooks: Hooks = {}): Promise<ScoresFile> {
  const needles = detectionNeedles(opts);
  const cases = await runQrheadGrid(model, opts, hooks, needles);
  const settings = qrheadSettings(model, opts, needles);
  return summarize(scoresModel(model), settings, cases, opts.threshold ?? DEFAULT_THRESHOLD);
}

export interface PatternOptions {
  blockLength?: number;
  repeats?: number;
  trials?: number;
  seed?: number;
  threshold?: number;
}

/** The sequences' recipe, with defaults filled in, checked against the model's context. */
export function patternSettings(model: LoadedModel, kind: PatternKind, opts: PatternOptions): ScoresSettings {
  const bos = model.info.bosTokenId;
  const repeats = opts.repeats ?? PATTERN_REPEATS;
  const prefixLength = bos !== null ? 1 : 0;
  // The default block shrinks to fit a small model's context and vocabulary; a given one is checked.
  const ordinary = model.info.vocabSize - new Set([...model.info.eosTokenIds, ...(bos !== null ? [bos] : [])]).size;
  const fits = Math.min(Math.floor((model.info.contextLength - prefixLength) / repeats), ordinary);
  const s = {
    blockLength: opts.blockLength ?? Math.max(2, Math.min(PATTERN_BLOCK_LENGTH, fits)),
    repeats,
    trials: opts.trials ?? PATTERN_TRIALS,
    seed: opts.seed ?? PATTERN_SEED,
    prefix: bos !== null ? [bos] : [],
  };
  if (!(Number.isInteger(s.trials) && s.trials >= 1))
    throw new RetrievalLensError('BAD_INPUT', `trials must be a positive integer, got ${s.trials}`);
  if (!Number.isSafeInteger(s.seed)) throw new RetrievalLensError('BAD_INPUT', `the seed must be an integer, got ${s.seed}`);
  const total = s.prefix.length + s.blockLength * s.repeats;
  if (total > model.info.contextLength)
    throw new RetrievalLensError(
      'CONTEXT_TOO_LONG',
      `${s.repeats} copies of a ${s.blockLength}-token block (${total} tokens) exceed the model's context of ${model.info.contextLength}`,
    );
  return { method: kind, threshold: opts.threshold ?? DEFAULT_THRESHOLD, randomSequence: s };
}

/** Echo or induction scores: one prefill per sequence, exposing the rows of every position from the second copy on. */
export async function runPatternDetection(
  model: LoadedModel,
  kind: PatternKind,
  opts: PatternOptions = {},
  hooks: Hooks = {},
): Promise<ScoresFile> {
  const settings = patternSettings(model, kind, opts);
  const rs = settings.randomSequence!;
  const { layers, heads, vocabSize, eosTokenIds, bosTokenId } = model.info;
  const avoid = [...eosTokenIds, ...(bosTokenId !== null ? [bosTokenId] : [])];
  const cases: CaseResult[] = [];
  const t0 = Date.now();
  for (let t = 0; t < rs.trials; t++) {
    throwIfAborted(hooks.signal);
    const { ids, scoredFrom } = repeatedRandomSequence({ ...rs, seed: rs.seed + t, vocabSize, avoid });
    const rows = await model.decoder().prefillRows(ids, { rows: ids.length - scoredFrom, signal: hooks.signal });
    const scorer = new PatternScorer(layers, heads, kind, ids);
    rows.forEach((r, k) => scorer.step(scoredFrom + k, r.rows, r.kvLen));
    const c: CaseResult = {
      length: ids.length,
      depth: 0,
      needleId: `random-${rs.seed + t}`,
      promptTokens: ids.length,
      span: [scoredFrom, ids.length],
      success: true,
      rougeRecall: 0,
      response: '',
      question: '',
      scores: scorer.toMatrix(),
    };
    cases.push(c);
    hooks.onCase?.(c);
    const elapsed = Date.now() - t0;
    hooks.onProgress?.({ done: t + 1, total: rs.trials, etaMs: (elapsed / (t + 1)) * (rs.trials - t - 1), last: c });
  }
  return summarize(scoresModel(model), settings, cases, settings.threshold);
}
