// The ablation tab: accuracy as the top-k retrieval heads or k random heads are masked.
import { fmt, h } from '../dom.js';
import { drawAblation } from '../plots.js';
import { exportFigure } from '../exportFigure.js';
import { button, panel, plotColors, post } from '../panel.js';

export function ablationTab(): HTMLElement {
  const { state } = panel;
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-ablation' });
  if (!state.ablations.length) {
    root.append(
      h(
        'p',
        { class: 'empty', 'data-testid': 'ablation-empty' },
        'No ablation yet. "Run ablation…" masks the top-k retrieval heads and k random heads and measures NIAH accuracy.',
      ),
    );
    root.append(
      button('Run ablation…', 'btn-run-ablation-2', () => post({ type: 'command', command: 'runAblation' }), {
        disabled: !state.map || Boolean(state.busy),
      }),
    );
    return root;
  }
  const fig = h('div', { class: 'figure' });
  fig.append(drawAblation(state.ablations, plotColors()));
  root.append(fig);
  root.append(
    h(
      'div',
      { class: 'row' },
      button('Export SVG', 'btn-ablation-svg', () => void exportFigure('ablation', 'svg'), { secondary: true }),
      button('Export PNG', 'btn-ablation-png', () => void exportFigure('ablation', 'png'), { secondary: true }),
      button('Export JSON', 'btn-ablation-json', () => post({ type: 'exportJson', figure: 'ablation' }), { secondary: true }),
    ),
  );
  for (const [i, a] of state.ablations.entries()) {
    const t = h(
      'table',
      { class: 'ablation', 'data-testid': `ablation-table-${i}` },
      h('caption', {}, `${a.name} (baseline ${fmt(a.baseline, 2)})`),
    );
    t.append(h('tr', {}, h('th', {}, 'k'), h('th', {}, 'top-k masked'), h('th', {}, 'random (mean)'), h('th', {}, 'random (min–max)')));
    for (const r of a.rows) {
      const range = r.random.length ? `${fmt(r.min, 2)}–${fmt(r.max, 2)}` : '–';
      t.append(
        h(
          'tr',
          { 'data-testid': `ablation-row-${i}-${r.k}` },
          h('td', {}, String(r.k)),
          h('td', {}, fmt(r.top, 2)),
          h('td', {}, fmt(r.mean, 2)),
          h('td', {}, range),
        ),
      );
    }
    root.append(t);
  }
  return root;
}
