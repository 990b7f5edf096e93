// KV-cache what-if (RazorAttention, DuoAttention, HeadKV): keep the whole cache only for the heads
// that retrieve, give every other head a sink and a recent window, and see what NIAH accuracy
// survives at what memory. The cache is kept per KV head, so with grouped-query attention a query
// head kept whole keeps its whole KV group whole: every query head of a kept KV head attends in
// full, every other query head is restricted. The prefill runs with the whole cache, as a policy
// that compresses the cache after the prompt (RazorAttention) does; the restriction applies to
// every decoding step. kvFraction is the cache this policy keeps relative to the whole cache.
import { RetrievalLensError, throwIfAborted } from '../shared/errors.js';
import { rng } from '../shared/random.js';
import type { HeadRef, LoadedModel } from '../engine/index.js';
import { freshCases, judge, type FreshCaseOptions } from './ablate.js';
import { answerText, greedyTokens } from './decoding.js';
import type { Hooks } from './detect.js';
import type { ScoresFile } from './types.js';
import {
  DEFAULT_ABLATION_KS,
  DEFAULT_KV_SINK,
  DEFAULT_KV_WINDOW,
  DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_RANDOM_SEED,
  DEFAULT_RANDOM_TRIALS,
} from './defaults.js';

export interface KvShape {
  layers: number;
  heads: number;
  kvHeads: number;
}

/** One KV head: a layer's cache slice that `heads / kvHeads` query heads read. */
export interface KvUnit {
  layer: number;
  kvHead: number;
}

/** Query heads per KV head; refuses shapes where the heads do not split evenly. */
export function groupSize(shape: KvShape): number {
  const { heads, kvHeads } = shape;
  if (!(Number.isInteger(heads) && Number.isInteger(kvHeads) && kvHeads >= 1 && heads % kvHeads === 0))
    throw new RetrievalLensError('BAD_INPUT', `${heads} query heads do not split into ${kvHeads} KV heads`);
  return heads / kvHeads;
}

/** The KV heads that hold these query heads, each once, in the heads' order (query head h reads KV head h / group). */
export function kvUnitsOf(heads: HeadRef[], shape: KvShape): KvUnit[] {
  const g = groupSize(shape);
  const seen = new Set<string>();
  const out: KvUnit[] = [];
  for (const { layer, head } of heads) {
    const unit = { layer, kvHead: Math.floor(head / g) };
    const key = `${unit.layer}:${unit.kvHead}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(unit);
    }
  }
  return out;
}

/** Every query head that reads one of these KV heads (they attend in full). */
export function headsOfUnits(units: KvUnit[], shape: KvShape): HeadRef[] {
  const g = groupSize(shape);
  return units.flatMap(({ layer, kvHead }) => Array.from({ length: g }, (_, i) => ({ layer, head: kvHead * g + i })));
}

/** The query heads outside the kept KV heads: those the policy restricts to a sink and a window. */
export function restrictedHeads(kept: KvUnit[], shape: KvShape): HeadRef[] {
  const g = groupSize(shape);
  const keep = new Set(kept.map((u) => `${u.layer}:${u.kvHead}`));
  const out: HeadRef[] = [];
  for (let layer = 0; layer < shape.layers; layer++)
    for (let head = 0; head < shape.heads; head++) if (!keep.has(`${layer}:${Math.floor(head / g)}`)) out.push({ layer, head });
  return out;
}

/**
 * Cache the policy keeps relative to the whole cache, over sequences of these lengths: a kept KV
 * head holds all L positions, a restricted one min(L, sink + window). Summed over the sequences,
 * so a long one weighs as the memory it takes.
 */
export function kvFraction(keptUnits: number, shape: KvShape, lengths: number[], sink: number, window: number): number {
  const total = shape.layers * shape.kvHeads;
  if (!(Number.isInteger(keptUnits) && keptUnits >= 0 && keptUnits <= total))
    throw new RetrievalLensError('BAD_INPUT', `cannot keep ${keptUnits} of ${total} KV heads`);
  if (!lengths.length) throw new RetrievalLensError('BAD_INPUT', 'no sequence lengths to measure the cache at');
  let kept = 0;
  let full = 0;
  for (const L of lengths) {
    kept += keptUnits * L + (total - keptUnits) * Math.min(L, sink + window);
    full += total * L;
  }
  return kept / full;
}

/** n KV heads drawn without replacement from those not in `exclude`. */
export function randomUnits(shape: KvShape, n: number, exclude: KvUnit[], rand: () => number): KvUnit[] {
  const skip = new Set(exclude.map((u) => `${u.layer}:${u.kvHead}`));
  const pool: KvUnit[] = [];
  for (let layer = 0; layer < shape.layers; layer++)
    for (let kvHead = 0; kvHead < shape.kvHeads; kvHead++) if (!skip.has(`${layer}:${kvHead}`)) pool.push({ layer, kvHead });
  if (n > pool.length)
    throw new RetrievalLensError(
      'BAD_INPUT',
      `cannot draw ${n} random KV heads: only ${pool.length} are outside those the retrieval heads hold`,
    );
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}

export interface KvWhatifOptions extends FreshCaseOptions {
  ks?: number[];
  window?: number;
  sink?: number;
  randomTrials?: number;
  seed?: number;
}

export interface KvPoint {
  keep: 'retrieval' | 'random';
  /** Query heads asked to stay whole: the top k by score, or (random) as many KV heads as those hold. */
  k: number;
  window: number;
  sink: number;
  kvFraction: number;
  /** ROUGE-1 success rate (random: mean over trials). */
  accuracy: number;
  /** Exact-answer rate (random: mean over trials). */
  exact: number;
  /** KV heads kept whole, [layer, kvHead] (random: the first trial's). */
  keptKvHeads: [number, number][];
  /** Random only: each trial's rates and KV heads. */
  trials?: { accuracy: number; exact: number; keptKvHeads: [number, number][] }[];
}

export interface KvWhatifResult {
  format: 'retrieval-lens/kv-whatif@1';
  model: { id: string; layers: number; heads: number; kvHeads: number };
  settings: {
    ks: number[];
    window: number;
    sink: number;
    randomTrials: number;
    seed: number;
    lengths: number[];
    depths: number[];
    needles: string[];
    cases: number;
    threshold: number;
    retrievalHeads: number;
    maxNewTokens: number;
  };
  baseline: { accuracy: number; exact: number; kvFraction: 1 };
  /** Every head restricted (no head kept whole): what the window alone keeps. */
  windowOnly: { accuracy: number; exact: number; kvFraction: number };
  points: KvPoint[];
}

const pairs = (units: KvUnit[]): [number, number][] => units.map((u) => [u.layer, u.kvHead]);

export async function runKvWhatif(
  model: LoadedModel,
  scores: ScoresFile,
  opts: KvWhatifOptions,
  hooks: Hooks = {},
): Promise<KvWhatifResult> {
  const { info } = model;
  const shape: KvShape = { layers: info.layers, heads: info.heads, kvHeads: info.kvHeads };
  const ks = opts.ks ?? DEFAULT_ABLATION_KS;
  const window = opts.window ?? DEFAULT_KV_WINDOW;
  const sink = opts.sink ?? DEFAULT_KV_SINK;
  const trials = opts.randomTrials ?? DEFAULT_RANDOM_TRIALS;
  const seed = opts.seed ?? DEFAULT_RANDOM_SEED;
  const maxNew = opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const bad = ks.filter((k) => !Number.isInteger(k) || k < 1 || k > info.layers * info.heads);
  if (bad.length)
    throw new RetrievalLensError(
      'BAD_INPUT',
      `k must be integers from 1 to the model's ${info.layers * info.heads} heads, got ${bad.join(', ')}`,
    );
  if (!(Number.isInteger(window) && window >= 1))
    throw new RetrievalLensError('BAD_INPUT', `the window must be at least 1 position, got ${window}`);
  if (!(Number.isInteger(sink) && sink >= 0))
    throw new RetrievalLensError('BAD_INPUT', `the sink must be 0 or more positions, got ${sink}`);
  if (!Number.isInteger(trials) || trials < 1)
    throw new RetrievalLensError('BAD_INPUT', `random trials must be a positive integer, got ${trials}`);
  groupSize(shape);
  const { cases, needles, lengths, depths, threshold, ranked, retrieval, stops } = freshCases(model, scores, opts);

  const rand = rng(seed);
  type Condition = { units: KvUnit[] | null; rates?: { accuracy: number; exact: number } };
  const baseline: Condition = { units: null };
  const windowOnly: Condition = { units: [] };
  const perK = ks.map((k) => {
    const top = kvUnitsOf(ranked.slice(0, k), shape);
    const randoms = Array.from({ length: trials }, () => ({ units: randomUnits(shape, top.length, top, rand) }) as Condition);
    return { k, top: { units: top } as Condition, randoms };
  });
  const conditions = [baseline, windowOnly, ...perK.flatMap((p) => [p.top, ...p.randoms])];
  const hits = conditions.map(() => ({ ok: 0, exact: 0 }));
  const stopSet = new Set(stops);
  const total = conditions.length * cases.length;
  let done = 0;
  const t0 = Date.now();
  for (const c of cases) {
    throwIfAborted(hooks.signal);
    // One prefill per case: every condition forks it (the policy applies after the prompt).
    const base = model.decoder();
    await base.prefill(c.promptIds.slice(0, -1), hooks.signal);
    for (let i = 0; i < conditions.length; i++) {
      const units = conditions[i].units;
      const restricted = units ? restrictedHeads(units, shape) : [];
      const d = base.fork(restricted.length ? { restrict: { heads: restricted, sink, window } } : {});
      const ids = await greedyTokens(d, c.promptIds[c.promptIds.length - 1], maxNew, stopSet, hooks.signal);
      const j = judge(c.needle, answerText(model.tokenizer, ids, info.eosTokenIds));
      if (j.success) hits[i].ok++;
      if (j.exact) hits[i].exact++;
      done++;
      hooks.onProgress?.({ done, total, etaMs: ((Date.now() - t0) / done) * (total - done) });
    }
  }
  conditions.forEach((c, i) => (c.rates = { accuracy: hits[i].ok / cases.length, exact: hits[i].exact / cases.length }));
  const fraction = (units: KvUnit[]) =>
    kvFraction(
      units.length,
      shape,
      cases.map((c) => c.length),
      sink,
      window,
    );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const points: KvPoint[] = [];
  for (const { k, top, randoms } of perK) {
    const common = { k, window, sink, kvFraction: fraction(top.units!) };
    points.push({ keep: 'retrieval', ...common, ...top.rates!, keptKvHeads: pairs(top.units!) });
    points.push({
      keep: 'random',
      ...common,
      accuracy: mean(randoms.map((r) => r.rates!.accuracy)),
      exact: mean(randoms.map((r) => r.rates!.exact)),
      keptKvHeads: pairs(randoms[0].units!),
      trials: randoms.map((r) => ({ ...r.rates!, keptKvHeads: pairs(r.units!) })),
    });
  }
  return {
    format: 'retrieval-lens/kv-whatif@1',
    model: { id: info.id, layers: info.layers, heads: info.heads, kvHeads: info.kvHeads },
    settings: {
      ks,
      window,
      sink,
      randomTrials: trials,
      seed,
      lengths,
      depths,
      needles: needles.map((n) => n.id),
      cases: cases.length,
      threshold,
      retrievalHeads: retrieval.length,
      maxNewTokens: maxNew,
    },
    baseline: { ...baseline.rates!, kvFraction: 1 },
    windowOnly: { ...windowOnly.rates!, kvFraction: fraction([]) },
    points,
  };
}
