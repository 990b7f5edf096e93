// How far two score sets of one model agree: rank correlations, and the heads one ranks high and
// the other does not. Score sets are compared as matrices at one level: query heads, or KV heads
// (query heads aggregated per group, gqa.ts; files that already hold KV heads as they are).
import { RetrievalLensError } from '../shared/errors.js';
import { kvMatrix } from './formats/export.js';
import type { KvAggregation } from './gqa.js';
import type { ScoresFile } from './types.js';

/** Kendall's tau-b (ties in either list corrected for); null where undefined (fewer than two values, or a constant list). */
export function kendall(a: number[], b: number[]): number | null {
  const n = a.length;
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const da = Math.sign(a[i] - a[j]);
      const db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return n < 2 || denom === 0 ? null : (concordant - discordant) / denom;
}

/** Indices of `xs` by value, highest first (ties: lower index first), and each index's 1-based rank. */
export function rankOrder(xs: number[]): { order: number[]; rank: number[] } {
  const order = xs.map((_, i) => i).sort((i, j) => xs[j] - xs[i] || i - j);
  const rank = new Array<number>(xs.length);
  order.forEach((i, r) => (rank[i] = r + 1));
  return { order, rank };
}

export interface Disagreement {
  layer: number;
  /** Query head, or KV head at level kv. */
  head: number;
  a: number;
  b: number;
  rankA: number;
  rankB: number;
  /** Which set has it in its top k (the other does not). */
  topOf: 'a' | 'b';
}

/** Heads in the top k of one matrix and not of the other, by their better rank. */
export function disagreements(a: number[][], b: number[][], k: number): Disagreement[] {
  const fa = a.flat();
  const fb = b.flat();
  const heads = a[0]?.length ?? 0;
  const ra = rankOrder(fa);
  const rb = rankOrder(fb);
  const kk = Math.min(k, fa.length);
  const topA = new Set(ra.order.slice(0, kk));
  const topB = new Set(rb.order.slice(0, kk));
  const out: Disagreement[] = [];
  for (const i of new Set([...topA, ...topB])) {
    if (topA.has(i) && topB.has(i)) continue;
    out.push({
      layer: Math.floor(i / heads),
      head: i % heads,
      a: fa[i],
      b: fb[i],
      rankA: ra.rank[i],
      rankB: rb.rank[i],
      topOf: topA.has(i) ? 'a' : 'b',
    });
  }
  return out.sort((x, y) => Math.min(x.rankA, x.rankB) - Math.min(y.rankA, y.rankB));
}

/** A head list (only its listed heads scored) padded with zeros to the other file's sizes. */
function pad(m: number[][], layers: number, heads: number): number[][] {
  return Array.from({ length: layers }, (_, l) => Array.from({ length: heads }, (_, h) => m[l]?.[h] ?? 0));
}

export interface Level {
  level: 'query' | 'kv';
  /** At level kv: how query heads were combined. */
  aggregation?: KvAggregation;
  /** At level kv: KV heads per layer for files of query heads (default: the files' own). */
  kvHeads?: number;
}

/** The two files' matrices at one level and of one size, or a one-line BAD_INPUT error. */
export function alignedMatrices(a: ScoresFile, b: ScoresFile, lv: Level): [number[][], number[][]] {
  let ma: number[][];
  let mb: number[][];
  if (lv.level === 'query') {
    for (const s of [a, b])
      if (s.settings.level === 'kv')
        throw new RetrievalLensError(
          'BAD_INPUT',
          `${s.model.id} holds KV-head scores (${s.settings.source ?? 'level kv'}): compare at --level kv`,
        );
    [ma, mb] = [a.scores, b.scores];
  } else {
    const agg = lv.aggregation ?? 'max';
    // A file of query heads takes its KV head count from itself, else from the other file.
    const other = (s: ScoresFile) => (s.settings.level === 'kv' ? s.model.heads : s.model.kvHeads);
    ma = kvMatrix(a, agg, lv.kvHeads ?? (a.settings.level === 'kv' ? undefined : (a.model.kvHeads ?? other(b))));
    mb = kvMatrix(b, agg, lv.kvHeads ?? (b.settings.level === 'kv' ? undefined : (b.model.kvHeads ?? other(a))));
  }
  const size = (m: number[][]) => [m.length, m[0]?.length ?? 0];
  const [la, ha] = size(ma);
  const [lb, hb] = size(mb);
  if (la === lb && ha === hb) return [ma, mb];
  // A head list's sizes are only its largest indices: it fits any file at least that large.
  if (a.settings.headList && la <= lb && ha <= hb) return [pad(ma, lb, hb), mb];
  if (b.settings.headList && lb <= la && hb <= ha) return [ma, pad(mb, la, ha)];
  throw new RetrievalLensError('BAD_INPUT', `cannot compare ${la}x${ha} heads with ${lb}x${hb}${lv.level === 'kv' ? ' (KV heads)' : ''}`);
}
