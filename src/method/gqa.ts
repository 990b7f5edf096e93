// Query heads to KV heads. With grouped-query attention, heads / kvHeads consecutive query heads
// share one KV head (query head h reads KV head floor(h / group), the order of transformers'
// repeat_kv). KV-cache methods (DuoAttention, RazorAttention, HeadKV's budgets) keep or drop a KV
// head's cache, so a per-query-head score is compared with theirs through one number per group:
// the max (a KV head matters if any of its query heads does: RazorAttention's rule) or the mean.
import { RetrievalLensError } from '../shared/errors.js';

export type KvAggregation = 'max' | 'mean';
export const KV_AGGREGATIONS: readonly KvAggregation[] = ['max', 'mean'];

/** Query heads per KV head; throws when the query heads do not split evenly. */
export function groupSize(heads: number, kvHeads: number): number {
  if (!(Number.isInteger(heads) && Number.isInteger(kvHeads) && kvHeads >= 1 && heads >= kvHeads && heads % kvHeads === 0))
    throw new RetrievalLensError('BAD_INPUT', `${heads} query heads do not form groups over ${kvHeads} KV heads`);
  return heads / kvHeads;
}

/** The KV head query head `head` reads. */
export function kvHeadOf(head: number, heads: number, kvHeads: number): number {
  return Math.floor(head / groupSize(heads, kvHeads));
}

/** [layers][heads] -> [layers][kvHeads]: each group's max or mean. */
export function toKvLevel(scores: number[][], kvHeads: number, agg: KvAggregation): number[][] {
  return scores.map((row) => {
    const g = groupSize(row.length, kvHeads);
    return Array.from({ length: kvHeads }, (_, k) => {
      const group = row.slice(k * g, (k + 1) * g);
      return agg === 'max' ? Math.max(...group) : group.reduce((x, y) => x + y, 0) / g;
    });
  });
}
