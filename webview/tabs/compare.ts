// The compare tab: two score sets' correlation, top-k overlap and scatter.
import { fmt, h } from '../dom.js';
import { drawScatter } from '../plots.js';
import { button, panel, plotColors, post } from '../panel.js';

export function compareTab(): HTMLElement {
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-compare' });
  const c = panel.state.compare;
  if (!c) {
    root.append(
      h(
        'p',
        { class: 'empty', 'data-testid': 'compare-empty' },
        'Pick two runs or score files to compare their scores (correlation, top-k overlap).',
      ),
    );
    root.append(button('Compare runs…', 'btn-compare-2', () => post({ type: 'command', command: 'compareRuns' })));
    return root;
  }
  root.append(h('div', { class: 'summary' }, h('strong', {}, c.a), ' vs ', h('strong', {}, c.b), c.note ? ` · ${c.note}` : ''));
  if (c.warning) root.append(h('p', { class: 'warning', role: 'alert', 'data-testid': 'compare-warning' }, `⚠ ${c.warning}`));
  root.append(
    h(
      'div',
      { class: 'row stats' },
      h('span', { 'data-testid': 'compare-pearson', 'data-value': c.pearson ?? '' }, `Pearson r = ${fmt(c.pearson)}`),
      ' · ',
      h('span', { 'data-testid': 'compare-spearman', 'data-value': c.spearman ?? '' }, `Spearman ρ = ${fmt(c.spearman)}`),
    ),
  );
  const t = h(
    'table',
    { class: 'overlap', 'data-testid': 'compare-overlap' },
    h('tr', {}, h('th', {}, 'k'), h('th', {}, 'shared top-k heads'), h('th', {}, 'overlap')),
  );
  for (const o of c.overlap) {
    t.append(
      h(
        'tr',
        { 'data-testid': `overlap-${o.k}` },
        h('td', {}, String(o.k)),
        h('td', {}, String(o.shared)),
        h('td', {}, fmt(o.fraction, 2)),
      ),
    );
  }
  root.append(t);
  const fig = h('div', { class: 'figure' });
  fig.append(drawScatter(c, plotColors()));
  root.append(fig);
  return root;
}
