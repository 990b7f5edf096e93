// The layers x heads score map: one cell per head, colour = score, the threshold marked in the
// legend and as an outline on retrieval heads, masked heads crossed, always-active heads dotted.
import { contrastText, legendLabels, mix, scoreScale, spreadLabels, toHex, type Rgb } from '../src/shared/colorScale.js';
import type { HeadRef, ScoreMapView } from '../src/shared/webviewProtocol.js';
import { s, themeFont } from './dom.js';
import { cellSize, MAP_LEFT, MAP_LEGEND_W } from '../src/shared/figures.js';

export interface MapColors {
  bg: Rgb;
  fg: Rgb;
  low: Rgb;
  high: Rgb;
  accent: Rgb;
  masked: Rgb;
}

export function drawScoreMap(
  view: ScoreMapView,
  selected: HeadRef | null,
  masks: HeadRef[],
  c: MapColors,
  size: { width: number; height: number } = { width: 800, height: 600 },
): SVGSVGElement {
  const scale = scoreScale(view.scores, view.threshold);
  const cell = cellSize(size.width, size.height, view.layers, view.heads);
  const left = MAP_LEFT;
  const top = 34;
  const legendW = MAP_LEGEND_W;
  const width = left + view.heads * cell + 20 + legendW;
  const legendH = Math.max(120, Math.min(view.layers * cell, 320));
  const height = Math.max(top + view.layers * cell + 36, top + legendH + 30);
  const fg = toHex(c.fg);
  const font = themeFont();
  const svg = s('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    'data-testid': 'score-map',
    role: 'img',
    'aria-label': `Retrieval scores, ${view.layers} layers by ${view.heads} heads`,
    'font-family': font,
    'font-size': 11,
  }) as SVGSVGElement;
  svg.append(s('rect', { x: 0, y: 0, width, height, fill: toHex(c.bg) }));
  svg.append(s('text', { x: left, y: 14, fill: fg, 'font-weight': 'bold' }, `${view.name}`));
  svg.append(s('text', { x: left, y: top - 6, fill: fg, 'font-size': 10 }, 'head →'));
  svg.append(s('text', { x: 4, y: top - 6, fill: fg, 'font-size': 10 }, 'layer ↓'));
  const masked = new Set(masks.map((m) => `${m.layer}-${m.head}`));
  const always = new Set(view.alwaysActive);
  const labelEvery = cell >= 16 ? 1 : view.heads > 16 ? 4 : 2;
  for (let hd = 0; hd < view.heads; hd += labelEvery)
    svg.append(
      s(
        'text',
        { x: left + hd * cell + cell / 2, y: top + view.layers * cell + 12, fill: fg, 'font-size': 9, 'text-anchor': 'middle' },
        String(hd),
      ),
    );
  const layerEvery = cell >= 12 ? 1 : view.layers > 16 ? 4 : 2;
  for (let l = 0; l < view.layers; l++) {
    if (l % layerEvery === 0)
      svg.append(s('text', { x: left - 6, y: top + l * cell + cell / 2 + 3, fill: fg, 'font-size': 9, 'text-anchor': 'end' }, String(l)));
    for (let hd = 0; hd < view.heads; hd++) {
      const score = view.scores[l]?.[hd] ?? 0;
      const fill = mix(c.low, c.high, scale.level(score));
      const id = `${l}-${hd}`;
      const retrieval = score >= view.threshold;
      const isSel = selected?.layer === l && selected?.head === hd;
      const g = s('g', {
        class: 'cell',
        'data-testid': `cell-${id}`,
        'data-layer': l,
        'data-head': hd,
        'data-score': score,
        'data-retrieval': retrieval ? 'true' : 'false',
        'data-masked': masked.has(id) ? 'true' : 'false',
        'data-selected': isSel ? 'true' : 'false',
        tabindex: -1,
      });
      g.append(
        s('rect', {
          x: left + hd * cell,
          y: top + l * cell,
          width: cell - 1,
          height: cell - 1,
          fill: toHex(fill),
          stroke: retrieval ? toHex(c.accent) : 'none',
          'stroke-width': retrieval ? 1.5 : 0,
        }),
      );
      if (always.has(id))
        g.append(
          s('circle', {
            cx: left + hd * cell + cell / 2 - 0.5,
            cy: top + l * cell + cell / 2 - 0.5,
            r: Math.max(1.5, cell / 8),
            fill: contrastText(fill),
          }),
        );
      if (masked.has(id)) {
        const x0 = left + hd * cell + 2;
        const y0 = top + l * cell + 2;
        const d = cell - 5;
        g.append(
          s('path', {
            d: `M${x0},${y0} L${x0 + d},${y0 + d} M${x0 + d},${y0} L${x0},${y0 + d}`,
            stroke: toHex(c.masked),
            'stroke-width': 1.5,
          }),
        );
      }
      if (isSel)
        g.append(
          s('rect', {
            x: left + hd * cell - 1.5,
            y: top + l * cell - 1.5,
            width: cell + 2,
            height: cell + 2,
            fill: 'none',
            stroke: fg,
            'stroke-width': 2,
            'data-testid': 'selected-outline',
          }),
        );
      svg.append(g);
    }
  }
  // Legend: a vertical bar from 0 (bottom) to max (top), ticks, and the threshold line.
  const lx = left + view.heads * cell + 20;
  const ly = top;
  const lh = legendH;
  const legend = s('g', { 'data-testid': 'legend' });
  const steps = 40;
  for (let i = 0; i < steps; i++) {
    const v0 = (scale.max * i) / steps;
    legend.append(
      s('rect', {
        x: lx,
        y: ly + lh - ((i + 1) * lh) / steps,
        width: 12,
        height: lh / steps + 0.5,
        fill: toHex(mix(c.low, c.high, scale.level(v0 + scale.max / steps / 2))),
      }),
    );
  }
  legend.append(s('rect', { x: lx, y: ly, width: 12, height: lh, fill: 'none', stroke: fg, 'stroke-width': 0.5 }));
  const yOf = (v: number) => ly + lh - (Math.min(v, scale.max) / scale.max) * lh;
  // Min, threshold and max always labelled (moved apart when close), round ticks between them.
  const labels = legendLabels(view.scores, view.threshold, scale);
  const textY = spreadLabels(
    labels.map((t) => yOf(t.value) + 3),
    11,
  );
  labels.forEach((t, i) => {
    const y = yOf(t.value);
    const isThreshold = t.kind === 'threshold';
    const color = isThreshold ? toHex(c.accent) : fg;
    legend.append(
      s('line', {
        x1: isThreshold ? lx - 3 : lx + 12,
        x2: lx + 15,
        y1: y,
        y2: y,
        stroke: color,
        'stroke-width': isThreshold ? 2 : 1,
        'data-testid': isThreshold ? 'legend-threshold' : undefined,
      }),
    );
    legend.append(
      s(
        'text',
        {
          x: lx + 17,
          y: textY[i],
          fill: color,
          'font-size': 9,
          'font-weight': t.kind === 'tick' ? undefined : 'bold',
          'data-testid': `legend-label-${t.kind}`,
          'data-value': t.value,
        },
        t.text,
      ),
    );
  });
  legend.append(s('text', { x: lx - 2, y: ly - 6, fill: fg, 'font-size': 9 }, 'score'));
  svg.append(legend);
  return svg;
}
