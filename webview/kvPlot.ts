// KV what-if plot: NIAH accuracy against the KV memory kept (fraction of the whole cache), one
// line for the top-k retrieval heads' KV heads kept whole, one for as many random KV heads, the
// window alone and the whole cache marked.
import { toHex } from '../src/shared/colorScale.js';
import type { AblationMetric, KvWhatifView } from '../src/shared/webviewProtocol.js';
import { kvSeries } from '../src/shared/figures.js';
import { s, fmt } from './dom.js';
import { accuracyFrame, type PlotColors } from './plots.js';

const W = 520;
const H = 300;
const M = { l: 52, r: 16, t: 24, b: 42 };
const LEGEND_H = 56;

export function drawKvWhatif(v: KvWhatifView, c: PlotColors, metric: AblationMetric): SVGSVGElement {
  const { svg, fg, pw, ph, y } = accuracyFrame({
    testId: 'kvwhatif-plot',
    metric,
    colors: c,
    margin: M,
    legendH: LEGEND_H,
    xTicks: [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: f, label: `${Math.round(100 * f)}%` })),
    xTitle: 'KV memory kept (fraction of the whole cache)',
  });
  const x = (f: number) => M.l + f * pw;
  svg.append(s('line', { x1: M.l, y1: M.t + ph, x2: M.l + pw, y2: M.t + ph, stroke: fg }));
  svg.append(s('line', { x1: M.l, y1: M.t, x2: M.l, y2: M.t + ph, stroke: fg }));
  const sr = kvSeries(v, metric);
  const line = (pts: { f: number; a: number; k: number }[], color: string, keep: string, dash?: string) => {
    if (pts.length > 1)
      svg.append(
        s('polyline', {
          points: pts.map((p) => `${x(p.f)},${y(p.a)}`).join(' '),
          fill: 'none',
          stroke: color,
          'stroke-width': 2,
          'stroke-dasharray': dash ?? '',
        }),
      );
    for (const p of pts)
      svg.append(
        s(
          'circle',
          {
            cx: x(p.f),
            cy: y(p.a),
            r: 4,
            fill: color,
            'data-testid': `kv-point-${keep}`,
            'data-k': p.k,
            'data-fraction': p.f,
            'data-value': p.a,
          },
          s('title', {}, `${keep} kept, k=${p.k}: ${Math.round(100 * p.f * 10) / 10}% KV, ${fmt(p.a, 2)}`),
        ),
      );
  };
  line(sr.retrieval, toHex(c.top), 'retrieval');
  line(sr.random, toHex(c.random), 'random', '4,3');
  // The whole cache (100% memory) and the window alone (no head kept whole): the curve's two ends.
  svg.append(
    s('line', { x1: M.l, x2: M.l + pw, y1: y(sr.full), y2: y(sr.full), stroke: fg, 'stroke-dasharray': '2,4', 'stroke-opacity': 0.7 }),
    s('rect', { x: x(1) - 5, y: y(sr.full) - 5, width: 10, height: 10, fill: fg, 'data-testid': 'kv-full-cache', 'data-value': sr.full }),
    s('text', { x: x(1) - 8, y: y(sr.full) - 8, fill: fg, 'text-anchor': 'end' }, `whole cache ${fmt(sr.full, 2)}`),
    s('path', {
      d: `M ${x(sr.window.f)} ${y(sr.window.a) - 6} l 6 10 l -12 0 z`,
      fill: 'none',
      stroke: fg,
      'data-testid': 'kv-window-only',
      'data-value': sr.window.a,
    }),
  );
  const ly = H + 14;
  const legend: [string, string, string][] = [
    [toHex(c.top), '', 'retrieval heads kept whole (top k)'],
    [toHex(c.random), '4,3', 'as many random KV heads kept whole (same KV memory)'],
  ];
  legend.forEach(([color, dash, text], i) => {
    const yy = ly + i * 16;
    svg.append(s('line', { x1: M.l, x2: M.l + 22, y1: yy, y2: yy, stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash }));
    svg.append(s('text', { x: M.l + 28, y: yy + 4, fill: fg }, text));
  });
  svg.append(
    s('text', { x: M.l, y: ly + 36, fill: fg }, `■ whole cache   △ window only (sink ${v.sink} + window ${v.window}, every head)`),
  );
  return svg;
}
