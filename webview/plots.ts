// Ablation plot (NIAH accuracy vs k: top-k retrieval heads masked, k random heads masked with
// mean and min-max spread, baseline dashed) and the comparison scatter.
import { toHex, type Rgb } from '../src/shared/colorScale.js';
import type { AblationMetric, AblationView, CompareView } from '../src/shared/webviewProtocol.js';
import { ablationSeries, niceAxis } from '../src/shared/figures.js';
import { s, fmt, themeFont } from './dom.js';

export interface PlotColors {
  bg: Rgb;
  fg: Rgb;
  top: Rgb;
  random: Rgb;
  grid: Rgb;
}

// The legend sits under the axes, not beside them, so the figure fits a side-by-side panel
// (about 520 px) without scrolling or shrinking its text.
const W = 520;
const H = 300;
const M = { l: 52, t: 30, b: 42 };
const LEGEND_H = 44;

export const METRIC_AXIS: Record<AblationMetric, string> = {
  rouge: 'NIAH accuracy (ROUGE-1 recall > 0.5)',
  exact: 'NIAH accuracy (exact answer)',
};

/**
 * The frame both accuracy plots (ablation, KV what-if) share: an SVG of the figure's size on the
 * theme background, the accuracy grid 0-1 with its labels, the x ticks (`at`: fraction of the plot
 * width) and both axis titles. Returns the plot width and height and the accuracy-to-y map.
 */
export function accuracyFrame(o: {
  testId: string;
  metric: AblationMetric;
  colors: PlotColors;
  margin: { l: number; r: number; t: number; b: number };
  legendH: number;
  xTicks: { at: number; label: string }[];
  xTitle: string;
}): { svg: SVGSVGElement; fg: string; pw: number; ph: number; y: (a: number) => number } {
  const { colors: c, margin: m } = o;
  const svg = s('svg', {
    width: W,
    height: H + o.legendH,
    viewBox: `0 0 ${W} ${H + o.legendH}`,
    'data-testid': o.testId,
    'data-metric': o.metric,
    'font-family': themeFont(),
    'font-size': 11,
  }) as SVGSVGElement;
  const fg = toHex(c.fg);
  svg.append(s('rect', { x: 0, y: 0, width: W, height: H + o.legendH, fill: toHex(c.bg) }));
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const y = (a: number) => m.t + ph - a * ph;
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s('line', { x1: m.l, x2: m.l + pw, y1: y(a), y2: y(a), stroke: toHex(c.grid), 'stroke-width': 0.5 }));
    svg.append(s('text', { x: m.l - 6, y: y(a) + 3, fill: fg, 'text-anchor': 'end', 'font-size': 9 }, fmt(a, 2)));
  }
  for (const t of o.xTicks)
    svg.append(s('text', { x: m.l + t.at * pw, y: m.t + ph + 14, fill: fg, 'text-anchor': 'middle', 'font-size': 9 }, t.label));
  svg.append(s('text', { x: m.l + pw / 2, y: H - 8, fill: fg, 'text-anchor': 'middle' }, o.xTitle));
  svg.append(
    s(
      'text',
      { x: 12, y: m.t + ph / 2, fill: fg, 'text-anchor': 'middle', transform: `rotate(-90 12 ${m.t + ph / 2})` },
      METRIC_AXIS[o.metric],
    ),
  );
  return { svg, fg, pw, ph, y };
}

export function drawAblation(all: AblationView[], c: PlotColors, metric: AblationMetric = 'rouge'): SVGSVGElement {
  const runs = all.flatMap((r) => {
    const sr = ablationSeries(r, metric);
    return sr ? [{ name: r.name, ...sr }] : [];
  });
  const ks = [...new Set(runs.flatMap((r) => r.rows.map((x) => x.k)))].sort((a, b) => a - b);
  const kMax = Math.max(1, ...ks);
  const { svg, fg, pw, y } = accuracyFrame({
    testId: 'ablation-plot',
    metric,
    colors: c,
    margin: { ...M, r: 10 },
    legendH: LEGEND_H,
    xTicks: [0, ...ks].map((k) => ({ at: k / kMax, label: String(k) })),
    xTitle: 'heads masked (k)',
  });
  const x = (k: number) => M.l + (k / kMax) * pw;
  svg.append(
    s('text', { x: M.l, y: 16, fill: fg, 'font-weight': 'bold' }, runs.length === 1 ? runs[0].name : `${runs.length} ablation runs`),
  );
  const dash = ['', '5,3', '2,2', '8,3,2,3'];
  runs.forEach((run, ri) => {
    const rows = [...run.rows].sort((a, b) => a.k - b.k);
    const g = s('g', { 'data-testid': `ablation-series-${ri}` });
    const stats = rows.map((r) => ({ k: r.k, top: r.top, mean: r.mean, min: r.min, max: r.max }));
    const pts = [{ k: 0, top: run.baseline, mean: run.baseline, min: run.baseline, max: run.baseline }, ...stats];
    // spread band of the random trials
    const band = [...pts.map((p) => `${x(p.k)},${y(p.max)}`), ...[...pts].reverse().map((p) => `${x(p.k)},${y(p.min)}`)].join(' ');
    g.append(s('polygon', { points: band, fill: toHex(c.random), 'fill-opacity': 0.18, stroke: 'none' }));
    g.append(
      s('polyline', {
        points: pts.map((p) => `${x(p.k)},${y(p.mean)}`).join(' '),
        fill: 'none',
        stroke: toHex(c.random),
        'stroke-width': 2,
        'stroke-dasharray': dash[ri % dash.length] || undefined,
      }),
    );
    g.append(
      s('polyline', {
        points: pts.map((p) => `${x(p.k)},${y(p.top)}`).join(' '),
        fill: 'none',
        stroke: toHex(c.top),
        'stroke-width': 2,
        'stroke-dasharray': dash[ri % dash.length] || undefined,
      }),
    );
    for (const p of stats) {
      g.append(
        s('circle', {
          cx: x(p.k),
          cy: y(p.top),
          r: 3,
          fill: toHex(c.top),
          'data-testid': `ablation-top-${ri}-${p.k}`,
          'data-value': p.top,
        }),
      );
      g.append(
        s('circle', {
          cx: x(p.k),
          cy: y(p.mean),
          r: 3,
          fill: toHex(c.random),
          'data-testid': `ablation-random-${ri}-${p.k}`,
          'data-value': p.mean,
        }),
      );
    }
    svg.append(g);
  });
  if (runs.length) {
    const b = runs[runs.length - 1].baseline;
    svg.append(s('line', { x1: M.l, x2: M.l + pw, y1: y(b), y2: y(b), stroke: fg, 'stroke-dasharray': '3,3', 'stroke-width': 1 }));
  }
  // legend: two columns of two under the x-axis title
  const items: [string, Rgb | null][] = [
    ['top-k retrieval heads', c.top],
    ['k random heads (mean)', c.random],
    ['random min-max', c.random],
    ['no mask (baseline)', null],
  ];
  items.forEach(([label, col], i) => {
    const lx = M.l + (i % 2) * 220;
    const yy = H + 6 + Math.floor(i / 2) * 18;
    if (i === 2) svg.append(s('rect', { x: lx, y: yy - 6, width: 18, height: 10, fill: toHex(col!), 'fill-opacity': 0.18 }));
    else
      svg.append(
        s('line', {
          x1: lx,
          x2: lx + 18,
          y1: yy,
          y2: yy,
          stroke: col ? toHex(col) : fg,
          'stroke-width': 2,
          'stroke-dasharray': col ? undefined : '3,3',
        }),
      );
    svg.append(s('text', { x: lx + 24, y: yy + 4, fill: fg, 'font-size': 10 }, label));
  });
  return svg;
}

export function drawScatter(view: CompareView, c: PlotColors): SVGSVGElement {
  const size = 300;
  const m = 48;
  const svg = s('svg', {
    width: size + m,
    height: size + m,
    viewBox: `0 0 ${size + m} ${size + m}`,
    'data-testid': 'compare-scatter',
    'font-family': themeFont(),
    'font-size': 10,
  }) as SVGSVGElement;
  const fg = toHex(c.fg);
  svg.append(s('rect', { x: 0, y: 0, width: size + m, height: size + m, fill: toHex(c.bg) }));
  const axis = niceAxis(Math.max(0, ...view.points.map((p) => Math.max(p.a, p.b))));
  const max = axis.max;
  const px = (v: number) => m + (v / max) * (size - 10);
  const py = (v: number) => size - (v / max) * (size - 10);
  // Round ticks and grid lines, the same on both axes.
  for (const v of axis.ticks) {
    svg.append(s('line', { x1: m, x2: px(max), y1: py(v), y2: py(v), stroke: toHex(c.grid), 'stroke-width': 0.5 }));
    svg.append(s('line', { x1: px(v), x2: px(v), y1: py(0), y2: py(max), stroke: toHex(c.grid), 'stroke-width': 0.5 }));
    svg.append(s('line', { x1: m - 4, x2: m, y1: py(v), y2: py(v), stroke: fg }));
    svg.append(s('line', { x1: px(v), x2: px(v), y1: size, y2: size + 4, stroke: fg }));
    svg.append(s('text', { x: m - 6, y: py(v) + 3, fill: fg, 'text-anchor': 'end', 'data-testid': 'scatter-ytick' }, fmt(v, 2)));
    svg.append(s('text', { x: px(v), y: size + 14, fill: fg, 'text-anchor': 'middle', 'data-testid': 'scatter-xtick' }, fmt(v, 2)));
  }
  // y = x: heads on it score the same in both runs.
  svg.append(
    s('line', {
      x1: px(0),
      y1: py(0),
      x2: px(max),
      y2: py(max),
      stroke: fg,
      'stroke-opacity': 0.7,
      'stroke-width': 1.2,
      'stroke-dasharray': '5,3',
      'data-testid': 'scatter-diagonal',
    }),
  );
  svg.append(s('text', { x: px(max) - 4, y: py(max) + 14, fill: fg, 'text-anchor': 'end', 'font-style': 'italic' }, 'y = x'));
  svg.append(s('line', { x1: m, y1: size, x2: px(max), y2: size, stroke: fg }));
  svg.append(s('line', { x1: m, y1: size, x2: m, y2: py(max), stroke: fg }));
  for (const p of view.points)
    svg.append(
      s(
        'circle',
        { cx: px(p.a), cy: py(p.b), r: 2.5, fill: toHex(c.top), 'fill-opacity': 0.7 },
        s('title', {}, `${p.key}: ${fmt(p.a)} vs ${fmt(p.b)}`),
      ),
    );
  svg.append(s('text', { x: m + size / 2, y: size + 32, fill: fg, 'text-anchor': 'middle' }, view.a));
  svg.append(s('text', { x: 10, y: size / 2, fill: fg, 'text-anchor': 'middle', transform: `rotate(-90 10 ${size / 2})` }, view.b));
  return svg;
}
