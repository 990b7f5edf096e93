// The score map's colour scale. Pure, so the webview and the tests share it. Colours come from the
// theme (CSS variables read by the webview) and are mixed here into concrete rgb values, so an
// exported SVG or PNG looks the same outside VS Code.

export type Rgb = [number, number, number];

export interface ScoreScale {
  max: number;
  threshold: number;
  /** 0..1 position of a score on the scale (square root, so weak heads stay visible). */
  level(score: number): number;
  ticks: number[];
}

export function scoreScale(scores: number[][], threshold: number): ScoreScale {
  let top = 0;
  for (const row of scores) for (const v of row) if (Number.isFinite(v) && v > top) top = v;
  // Keep the threshold well inside the scale even when no head reaches it.
  const max = Math.max(top, threshold * 1.5, 1e-6);
  const level = (s: number) => (Number.isFinite(s) && s > 0 ? Math.sqrt(Math.min(s, max) / max) : 0);
  const ticks = [...new Set([0, threshold, niceRound(max / 2), niceRound(max)])].filter((t) => t >= 0 && t <= max).sort((a, b) => a - b);
  return { max, threshold, level, ticks };
}

export interface LegendLabel {
  value: number;
  text: string;
  kind: 'min' | 'threshold' | 'max' | 'tick';
}

/**
 * The legend's labelled values: the lowest score, the threshold and the highest score always (the
 * colours are relative to the highest, so a map whose top head scores 0.18 is as saturated as one
 * whose top head scores 0.94: only the number tells them apart), and round ticks between them
 * where they do not crowd those three.
 */
export function legendLabels(scores: number[][], threshold: number, scale: ScoreScale = scoreScale(scores, threshold)): LegendLabel[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of scores)
    for (const v of row)
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
  if (lo === Infinity) lo = hi = 0;
  const keys: LegendLabel[] = [
    { value: lo, text: `min ${lo === 0 ? '0' : lo.toFixed(3)}`, kind: 'min' },
    { value: threshold, text: `${threshold.toFixed(2)} threshold`, kind: 'threshold' },
    { value: hi, text: `max ${hi.toFixed(3)}`, kind: 'max' },
  ];
  const crowded = (t: number) => keys.some((k) => Math.abs(k.value - t) < scale.max * 0.1);
  const ticks = scale.ticks.filter((t) => !crowded(t)).map((t): LegendLabel => ({ value: t, text: t.toFixed(2), kind: 'tick' }));
  return [...keys, ...ticks].sort((x, y) => x.value - y.value);
}

/**
 * Label positions (y, in pixels, downwards) moved apart so no two are closer than `gap`: each
 * label keeps its place when it can, else it moves just far enough from the label above it.
 */
export function spreadLabels(ys: number[], gap: number): number[] {
  const order = ys.map((y, i) => i).sort((a, b) => ys[a] - ys[b]);
  const out = [...ys];
  for (let j = 1; j < order.length; j++) out[order[j]] = Math.max(out[order[j]], out[order[j - 1]] + gap);
  return out;
}

function niceRound(x: number): number {
  if (x <= 0) return 0;
  const p = 10 ** Math.floor(Math.log10(x));
  return (Math.round((x / p) * 10) / 10) * p;
}

export function parseColor(css: string): Rgb | null {
  const s = css.trim().toLowerCase();
  let m = /^#([0-9a-f]{3,8})$/.exec(s);
  if (m) {
    const h = m[1];
    if (h.length === 3 || h.length === 4) return [0, 1, 2].map((i) => parseInt(h[i] + h[i], 16)) as Rgb;
    if (h.length === 6 || h.length === 8) return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
    return null;
  }
  m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(s);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])].map((v) => Math.max(0, Math.min(255, Math.round(v)))) as Rgb;
  return null;
}

export function mix(from: Rgb, to: Rgb, t: number): Rgb {
  const u = Math.max(0, Math.min(1, t));
  return [0, 1, 2].map((i) => Math.round(from[i] + (to[i] - from[i]) * u)) as Rgb;
}

export const toHex = (c: Rgb): string => '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');

/** Black or white text, whichever reads better on `bg`. */
export function contrastText(bg: Rgb): string {
  const [r, g, b] = bg.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? '#000000' : '#ffffff';
}
