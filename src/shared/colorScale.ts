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
