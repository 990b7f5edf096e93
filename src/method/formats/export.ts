// Our scores in other tools' formats: DuoAttention's full_attention_heads.tsv (one value per KV
// head, layers as lines, numpy.savetxt's "%.18e" and tabs, so its load_attn_pattern reads it) and
// QRHead's head lists (its detection output [["layer-head", score], ...] by score, and a config
// with attn_head_set naming the top heads).
import { RetrievalLensError } from '../../shared/errors.js';
import { toKvLevel, type KvAggregation } from '../gqa.js';
import type { ScoresFile } from '../types.js';

/** numpy's "%.18e": 19 significant digits (every double round-trips) and a two-digit exponent at least. */
export function numpyExp(v: number): string {
  if (!Number.isFinite(v)) return v !== v ? 'nan' : v > 0 ? 'inf' : '-inf';
  return v.toExponential(18).replace(/e([+-])(\d)$/, 'e$10$2');
}

/**
 * The [layers][kvHeads] matrix of a file: as it is when it already holds KV heads, else its query
 * heads aggregated per group (gqa.ts). kvHeads: the model's, unless given.
 */
export function kvMatrix(s: ScoresFile, agg: KvAggregation, kvHeads?: number): number[][] {
  if (s.settings.level === 'kv') {
    if (kvHeads !== undefined && kvHeads !== s.model.heads)
      throw new RetrievalLensError('BAD_INPUT', `${s.model.id} holds ${s.model.heads} KV heads per layer, not ${kvHeads}`);
    return s.scores;
  }
  const k = kvHeads ?? s.model.kvHeads;
  if (k === undefined)
    throw new RetrievalLensError('BAD_INPUT', `${s.model.id} does not say how many KV heads its model has: give --kv-heads`);
  return toKvLevel(s.scores, k, agg);
}

export function toDuoTsv(s: ScoresFile, agg: KvAggregation, kvHeads?: number): string {
  return (
    kvMatrix(s, agg, kvHeads)
      .map((row) => row.map(numpyExp).join('\t'))
      .join('\n') + '\n'
  );
}

/** Heads by score, highest first (ties: lower layer, then lower head), as "layer-head". */
export function rankedHeads(s: ScoresFile): [string, number][] {
  return s.scores
    .flatMap((row, l) => row.map((v, h) => [l, h, v] as const))
    .sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1])
    .map(([l, h, v]) => [`${l}-${h}`, v]);
}

/** QRHead's detection output: every head with its score, by score (json.dump's indent=4 layout, no final newline). */
export function toQrheadList(s: ScoresFile): string {
  return JSON.stringify(rankedHeads(s), null, 4);
}

/** A QRHead config naming the `top` best heads with a score above 0 (its attn_head_set). */
export function toQrheadConfig(s: ScoresFile, top: number): string {
  const heads = rankedHeads(s)
    .filter(([, v]) => v > 0)
    .slice(0, top)
    .map(([k]) => k);
  if (heads.length === 0) throw new RetrievalLensError('BAD_INPUT', `${s.model.id} has no head scoring above 0 to list`);
  const method = s.settings.method ?? (s.settings.source ? null : 'paper');
  const from = method ? `method ${method}` : (s.settings.source ?? 'imported scores');
  return `# Retrieval Lens export: the top ${heads.length} heads of ${s.model.id} (${from}), best first\nattn_head_set: "${heads.join(',')}"\n`;
}
