// Sizes and series of the panel's figures, computed without the DOM so the tests can check them.
import type { AblationMeasure, AblationMetric, AblationView, KvWhatifView } from './webviewProtocol.js';

/** The score map's margins: layer labels on the left, the legend on the right. */
export const MAP_LEFT = 56;
export const MAP_LEGEND_W = 120;

/** Cell size that fills `width` pixels (the panel's), within bounds that keep cells clickable and the map on screen. */
export function cellSize(width: number, height: number, layers: number, heads: number): number {
  const byWidth = Math.floor((width - MAP_LEFT - 20 - MAP_LEGEND_W) / Math.max(heads, 1));
  // A map of few layers may grow with the width; one of many stops where the panel's height ends.
  const byHeight = Math.floor(Math.max(240, height * 0.7) / Math.max(layers, 1));
  return Math.max(8, Math.min(64, byWidth, Math.max(byHeight, 12)));
}

/** One success measure of an ablation run: its baseline and rows (null when the run did not record it). */
export function ablationSeries(
  run: AblationView,
  metric: AblationMetric,
): { baseline: number; rows: ({ k: number } & AblationMeasure)[] } | null {
  if (metric === 'rouge') return { baseline: run.baseline, rows: run.rows };
  if (run.baselineExact === null || run.rows.some((r) => !r.exact)) return null;
  return { baseline: run.baselineExact, rows: run.rows.map((r) => ({ k: r.k, ...r.exact! })) };
}

/**
 * A plot axis from 0 that ends on a round value at or above `max`, with round ticks: steps of 1,
 * 2, 2.5 or 5 times a power of ten, about `n` of them.
 */
export function niceAxis(max: number, n = 4): { max: number; ticks: number[] } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] };
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw * (1 - 1e-9))!;
  const count = Math.ceil(max / step - 1e-9);
  const ticks = Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  return { max: ticks[ticks.length - 1], ticks };
}

/** The KV what-if plot's series: each policy's points by KV memory, the whole cache and the window alone. */
export function kvSeries(
  v: KvWhatifView,
  metric: AblationMetric,
): {
  retrieval: { f: number; a: number; k: number }[];
  random: { f: number; a: number; k: number }[];
  full: number;
  window: { f: number; a: number };
} {
  const val = (p: { accuracy: number; exact: number }) => (metric === 'exact' ? p.exact : p.accuracy);
  const of = (keep: 'retrieval' | 'random') =>
    v.points
      .filter((p) => p.keep === keep)
      .map((p) => ({ f: p.kvFraction, a: val(p), k: p.k }))
      .sort((a, b) => a.f - b.f || a.k - b.k);
  return {
    retrieval: of('retrieval'),
    random: of('random'),
    full: val(v.baseline),
    window: { f: v.windowOnly.kvFraction, a: val(v.windowOnly) },
  };
}
