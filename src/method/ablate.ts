// The causal experiment: NIAH accuracy on fresh cases with no mask, with the top-k retrieval heads
// masked, and with k random heads masked. Random heads are drawn from ALL heads of the model
// excluding the retrieval heads (the reference draws from range(32) and never excludes them).
import { RetrievalLensError, throwIfAborted } from '../shared/errors.js';
import { rng } from '../shared/random.js';
import type { HeadRef, LoadedModel, MaskMode, MaskScope } from '../engine/index.js';
import { CaseBuilder, choosePromptFormat, type NeedleCase } from './cases.js';
import { DEFAULT_DEPTHS, validateGrid, type Hooks } from './detect.js';
import { checkNeedles, DEFAULT_NEEDLES } from './needles.js';
import { rouge1Recall } from './rouge.js';
import type { AblationFile, Needle, ScoresFile } from './types.js';
import {
  DEFAULT_ABLATION_KS,
  DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_RANDOM_SEED,
  DEFAULT_RANDOM_TRIALS,
  DEFAULT_THRESHOLD,
  SUCCESS_RECALL,
} from './defaults.js';

export interface AblateOptions {
  ks?: number[];
  randomTrials?: number;
  seed?: number;
  haystack: string[];
  needles?: Needle[];
  lengths?: number[];
  depths?: number[];
  maxNewTokens?: number;
  maskMode?: MaskMode;
  maskScope?: MaskScope;
  template?: string;
}

/** What a run will do, told once its inputs are checked and before the first case runs. */
export interface AblationPlan {
  cases: number;
  /** No mask, then per k: top-k and each random trial. */
  conditions: number;
  generations: number;
  ks: number[];
  randomTrials: number;
  lengths: number[];
  depths: number[];
  needles: string[];
  retrievalHeads: number;
}

export interface AblateHooks extends Hooks {
  onPlan?: (plan: AblationPlan) => void;
  /** A condition (a set of masked heads) is about to run over the cases. */
  onCondition?: (c: { kind: 'baseline' | 'top' | 'random'; k: number; trial?: number; heads: HeadRef[] }) => void;
}

function normalize(t: string): string {
  return t.toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Heads ranked by mean score, best first (ties by position, so the order is deterministic). */
export function rankHeads(scores: number[][]): HeadRef[] {
  const all: [number, number, number][] = [];
  scores.forEach((row, layer) => row.forEach((s, head) => all.push([layer, head, s])));
  return all.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]).map(([layer, head]) => ({ layer, head }));
}

/** k heads drawn without replacement from the heads not in `exclude`. */
export function randomHeads(layers: number, heads: number, k: number, exclude: HeadRef[], rand: () => number): HeadRef[] {
  const skip = new Set(exclude.map((h) => `${h.layer}:${h.head}`));
  const pool: HeadRef[] = [];
  for (let layer = 0; layer < layers; layer++)
    for (let head = 0; head < heads; head++) if (!skip.has(`${layer}:${head}`)) pool.push({ layer, head });
  if (k > pool.length)
    throw new RetrievalLensError('BAD_INPUT', `cannot draw ${k} random heads: only ${pool.length} heads are not retrieval heads`);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}

/** Mean, min and max of the random trials' accuracies (NaN without trials). */
export function trialStats(xs: number[]): { mean: number; min: number; max: number } {
  if (!xs.length) return { mean: NaN, min: NaN, max: NaN };
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
}

/** Fresh depths: halfway between the detection depths, so no ablation case repeats a detection case. */
export function freshDepths(detection: number[]): number[] {
  const d = [...new Set(detection)].sort((a, b) => a - b);
  if (d.length < 2) return [Math.min(100, (d[0] ?? 0) + 12.5)];
  return d.slice(1).map((x, i) => (x + d[i]) / 2);
}

/** What a run on fresh cases (ablate, kv-whatif) is given. */
export type FreshCaseOptions = Pick<AblateOptions, 'haystack' | 'needles' | 'lengths' | 'depths' | 'maxNewTokens' | 'template'>;

/**
 * The ablation's fresh cases for a scores file: needles the detection did not use (all bundled
 * ones if it used them all), at depths between its depths, so no case repeats a detection prompt.
 * Also the heads ranked by score, the retrieval heads and the stop tokens every run uses.
 */
export function freshCases(model: LoadedModel, scores: ScoresFile, opts: FreshCaseOptions) {
  const { info } = model;
  if (scores.model.layers !== info.layers || scores.model.heads !== info.heads) {
    throw new RetrievalLensError(
      'BAD_SCORES_FILE',
      `the scores are for ${scores.model.layers} x ${scores.model.heads} heads but the model has ${info.layers} x ${info.heads}`,
    );
  }
  // parseScoresJson has checked these fields' types; a file without settings (or with null) has none.
  const settings = scores.settings ?? {};
  const used = new Set(settings.needles ?? []);
  const unused = DEFAULT_NEEDLES.filter((n) => !used.has(n.id));
  if (opts.needles?.length) checkNeedles(opts.needles);
  const needles = opts.needles?.length ? opts.needles : (unused.length ? unused : DEFAULT_NEEDLES).slice(0, 3);
  const lengths = opts.lengths ?? settings.lengths ?? [];
  if (!lengths.length)
    throw new RetrievalLensError(
      'BAD_INPUT',
      'the scores file does not say which context lengths the detection used (a reference-format file?): give the lengths to test',
    );
  const depths = opts.depths ?? freshDepths(settings.depths ?? DEFAULT_DEPTHS);
  validateGrid(model, { haystack: opts.haystack, lengths, depths, maxNewTokens: opts.maxNewTokens });
  const threshold = settings.threshold ?? DEFAULT_THRESHOLD;
  const ranked = rankHeads(scores.scores);
  const retrieval = ranked.filter(({ layer, head }) => scores.scores[layer][head] >= threshold);
  const fmt = choosePromptFormat(opts.template, info.template, info.hasChatTemplate);
  const builder = new CaseBuilder(model.tokenizer, opts.haystack, fmt, { bosTokenId: info.bosTokenId });
  const cases: NeedleCase[] = [];
  for (const length of lengths) for (const depth of depths) for (const needle of needles) cases.push(builder.build(length, depth, needle));
  const stops = [...info.eosTokenIds, ...(model.tokenizer.newlineTokenId !== null ? [model.tokenizer.newlineTokenId] : [])];
  return { cases, needles, lengths, depths, threshold, ranked, retrieval, stops };
}

/**
 * Two success measures: the paper's ROUGE-1 recall > 50%, and exact (the response contains the
 * whole answer). They differ when most answer words also stand in the question, as with the
 * organism's sentence answers: "Zorvak's secret code is 111." has recall 5/6 with a wrong code.
 */
export function judge(needle: Needle, response: string): { success: boolean; exact: boolean } {
  return {
    success: rouge1Recall(needle.real_needle, response.trim()) > SUCCESS_RECALL,
    exact: normalize(response).includes(normalize(needle.real_needle)),
  };
}

export async function runAblation(
  model: LoadedModel,
  scores: ScoresFile,
  opts: AblateOptions,
  hooks: AblateHooks = {},
): Promise<AblationFile> {
  const { info } = model;
  const ks = opts.ks ?? DEFAULT_ABLATION_KS;
  const trials = opts.randomTrials ?? DEFAULT_RANDOM_TRIALS;
  const seed = opts.seed ?? DEFAULT_RANDOM_SEED;
  const bad = ks.filter((k) => !Number.isInteger(k) || k < 1);
  if (bad.length) throw new RetrievalLensError('BAD_INPUT', `k must be positive integers, got ${bad.join(', ')}`);
  if (!Number.isInteger(trials) || trials < 1)
    throw new RetrievalLensError('BAD_INPUT', `random trials must be a positive integer, got ${trials}`);
  const { cases, needles, lengths, depths, threshold, ranked, retrieval, stops } = freshCases(model, scores, opts);
  const mode = opts.maskMode ?? 'uniform';
  const scope = opts.maskScope ?? 'decode';

  const rand = rng(seed);
  const conditions: { kind: 'baseline' | 'top' | 'random'; k: number; heads: HeadRef[] }[] = [{ kind: 'baseline', k: 0, heads: [] }];
  for (const k of ks) {
    conditions.push({ kind: 'top', k, heads: ranked.slice(0, k) });
    for (let t = 0; t < trials; t++)
      conditions.push({ kind: 'random', k, heads: randomHeads(info.layers, info.heads, k, retrieval, rand) });
  }
  const total = conditions.length * cases.length;
  let done = 0;
  const t0 = Date.now();
  const exactHits: number[] = [];
  hooks.onPlan?.({
    cases: cases.length,
    conditions: conditions.length,
    generations: total,
    ks,
    randomTrials: trials,
    lengths,
    depths,
    needles: needles.map((n) => n.id),
    retrievalHeads: retrieval.length,
  });
  const accuracy = async (cond: (typeof conditions)[number], trial?: number) => {
    const heads = cond.heads;
    hooks.onCondition?.({ kind: cond.kind, k: cond.k, trial, heads });
    let ok = 0;
    let exact = 0;
    for (const c of cases) {
      throwIfAborted(hooks.signal);
      const r = await model.generate(c.promptIds, {
        maxNewTokens: opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
        stopTokens: stops,
        mask: heads.length ? { heads, mode, scope } : undefined,
        signal: hooks.signal,
      });
      const j = judge(c.needle, r.text);
      if (j.success) ok++;
      if (j.exact) exact++;
      done++;
      hooks.onProgress?.({ done, total, etaMs: ((Date.now() - t0) / done) * (total - done) });
    }
    exactHits.push(exact / cases.length);
    return ok / cases.length;
  };

  const baseline = await accuracy(conditions[0]);
  const baselineExact = exactHits[exactHits.length - 1];
  const results: AblationFile['results'] = [];
  for (const k of ks) {
    const top = await accuracy(conditions.find((c) => c.kind === 'top' && c.k === k)!);
    const topExact = exactHits[exactHits.length - 1];
    const random: number[] = [];
    const randomExact: number[] = [];
    const randomHeadSets: HeadRef[][] = [];
    for (const [t, c] of conditions.filter((x) => x.kind === 'random' && x.k === k).entries()) {
      random.push(await accuracy(c, t + 1));
      randomExact.push(exactHits[exactHits.length - 1]);
      randomHeadSets.push(c.heads);
    }
    results.push({ k, top, random, topExact, randomExact, topHeads: ranked.slice(0, k), randomHeads: randomHeadSets });
  }
  return {
    format: 'retrieval-lens/ablation@1',
    model: { id: info.id, layers: info.layers, heads: info.heads },
    settings: {
      ks,
      randomTrials: trials,
      seed,
      lengths,
      depths,
      needles: needles.map((n) => n.id),
      maskMode: mode,
      maskScope: scope,
      threshold,
      retrievalHeads: retrieval.length,
      cases: cases.length,
    },
    baseline,
    baselineExact,
    results,
  };
}
