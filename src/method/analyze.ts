// Summaries of a score file and comparisons of two (the paper's "intrinsic" finding: the same
// heads across base/chat or short/long runs; or two methods, or a published file), as pure functions.
import { alwaysActive } from './aggregate.js';
import { alignedMatrices, disagreements, kendall, rankOrder, type Disagreement, type Level } from './agreement.js';
import type { KvAggregation } from './gqa.js';
import type { ScoresFile } from './types.js';
import { DEFAULT_THRESHOLD, DISAGREE_K } from './defaults.js';

export interface Analysis {
  heads: number;
  cases: number;
  fractionAtLeast01: number;
  fractionZero: number;
  alwaysActive: [number, number][];
  top: [number, number, number][];
}

/** How a file's scores were made, for labels: "method qrhead", or the format it was read from (files without either are the paper's). */
export function scoresOrigin(s: ScoresFile): string {
  if (s.settings.method) return `method ${s.settings.method}`;
  return s.settings.source ?? 'method paper';
}

export function analyzeScores(s: ScoresFile, topN = 10): Analysis {
  const flat = s.scores.flatMap((row, l) => row.map((v, h) => [l, h, v] as [number, number, number]));
  const counted = s.cases.filter((c) => c.success);
  return {
    heads: flat.length,
    cases: counted.length,
    fractionAtLeast01: flat.filter((x) => x[2] >= DEFAULT_THRESHOLD).length / flat.length,
    fractionZero: flat.filter((x) => x[2] === 0).length / flat.length,
    alwaysActive: s.summary?.alwaysActive ?? alwaysActive(counted, s.model.layers, s.model.heads),
    top: [...flat].sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]).slice(0, topN),
  };
}

/** Pearson's r; null where it is undefined (fewer than two values, or a constant list). */
export function pearson(a: number[], b: number[]): number | null {
  const n = a.length;
  const ma = a.reduce((x, y) => x + y, 0) / n;
  const mb = b.reduce((x, y) => x + y, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (a[i] - ma) * (b[i] - mb);
    da += (a[i] - ma) ** 2;
    db += (b[i] - mb) ** 2;
  }
  return n < 2 || da === 0 || db === 0 ? null : num / Math.sqrt(da * db);
}

/** Average ranks (ties share the mean rank), as Spearman's rho needs. */
export function ranks(xs: number[]): number[] {
  const idx = xs.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function spearman(a: number[], b: number[]): number | null {
  return pearson(ranks(a), ranks(b));
}

/** Indices of the k highest values (ties: lower index first, i.e. lower layer, then head). */
function topKeys(flat: number[], k: number): Set<number> {
  return new Set(rankOrder(flat).order.slice(0, k));
}

export interface Comparison {
  /** null where undefined: one of the score lists is constant (e.g. all 0). */
  pearson: number | null;
  spearman: number | null;
  kendall: number | null;
  topK: { k: number; shared: number; fraction: number }[];
  /** Fraction shared of the top-k sets at the default k (10, or fewer heads). */
  topKOverlap: number;
  /** What was compared: query heads, or KV heads with the aggregation used for query-head files. */
  level: 'query' | 'kv';
  aggregation?: KvAggregation;
  /** Heads compared (per file). */
  heads: number;
  /** Heads in one set's top k (disagreeK) and not in the other's. */
  disagreements: Disagreement[];
  disagreeK: number;
}

export interface CompareOptions extends Partial<Level> {
  ks?: number[];
  disagreeK?: number;
}

export function compareScores(a: ScoresFile, b: ScoresFile, opts: CompareOptions = {}): Comparison {
  const level = opts.level ?? 'query';
  const aggregation = level === 'kv' ? (opts.aggregation ?? 'max') : undefined;
  const [ma, mb] = alignedMatrices(a, b, { level, aggregation, kvHeads: opts.kvHeads });
  const fa = ma.flat();
  const fb = mb.flat();
  const ks = opts.ks ?? [5, 10, 20].filter((k) => k <= fa.length);
  const overlap = (k: number) => {
    const sa = topKeys(fa, k);
    return [...topKeys(fb, k)].filter((x) => sa.has(x)).length;
  };
  const topK = ks.map((k) => {
    const shared = overlap(k);
    return { k, shared, fraction: shared / k };
  });
  const k10 = Math.min(10, fa.length);
  const disagreeK = Math.min(opts.disagreeK ?? DISAGREE_K, fa.length);
  return {
    pearson: pearson(fa, fb),
    spearman: spearman(fa, fb),
    kendall: kendall(fa, fb),
    topK,
    topKOverlap: overlap(k10) / k10,
    level,
    ...(aggregation ? { aggregation } : {}),
    heads: fa.length,
    disagreements: disagreements(ma, mb, disagreeK),
    disagreeK,
  };
}
