// Summaries of a score file and comparisons of two (the paper's "intrinsic" finding: the same
// heads across base/chat or short/long runs), as pure functions.
import { RetrievalLensError } from '../shared/errors.js';
import { alwaysActive } from './aggregate.js';
import type { ScoresFile } from './types.js';
import { DEFAULT_THRESHOLD } from './defaults.js';

export interface Analysis {
  heads: number;
  cases: number;
  fractionAtLeast01: number;
  fractionZero: number;
  alwaysActive: [number, number][];
  top: [number, number, number][];
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

function topKeys(s: ScoresFile, k: number): Set<string> {
  return new Set(
    s.scores
      .flatMap((row, l) => row.map((v, h) => [l, h, v] as const))
      .sort((x, y) => y[2] - x[2] || x[0] - y[0] || x[1] - y[1])
      .slice(0, k)
      .map(([l, h]) => `${l}-${h}`),
  );
}

export interface Comparison {
  /** null where undefined: one of the score lists is constant (e.g. all 0). */
  pearson: number | null;
  spearman: number | null;
  topK: { k: number; shared: number; fraction: number }[];
  /** Fraction shared of the top-k sets at the default k (10, or fewer heads). */
  topKOverlap: number;
}

export function compareScores(a: ScoresFile, b: ScoresFile, opts: { ks?: number[] } = {}): Comparison {
  if (a.model.layers !== b.model.layers || a.model.heads !== b.model.heads) {
    throw new RetrievalLensError(
      'BAD_INPUT',
      `cannot compare ${a.model.layers}x${a.model.heads} heads with ${b.model.layers}x${b.model.heads}`,
    );
  }
  const fa = a.scores.flat();
  const fb = b.scores.flat();
  const ks = opts.ks ?? [5, 10, 20].filter((k) => k <= fa.length);
  const topK = ks.map((k) => {
    const sa = topKeys(a, k);
    const shared = [...topKeys(b, k)].filter((x) => sa.has(x)).length;
    return { k, shared, fraction: shared / k };
  });
  const k10 = Math.min(10, fa.length);
  const sa = topKeys(a, k10);
  const overlap = [...topKeys(b, k10)].filter((x) => sa.has(x)).length / k10;
  return { pearson: pearson(fa, fb), spearman: spearman(fa, fb), topK, topKOverlap: overlap };
}
