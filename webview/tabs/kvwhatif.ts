// The KV what-if tab: accuracy against KV memory, the retrieval heads' KV heads kept whole vs as
// many random ones, the whole cache and the window alone marked; a table of the points; export.
import type { AblationMetric } from '../../src/shared/webviewProtocol.js';
import { fmt, h } from '../dom.js';
import { drawKvWhatif } from '../kvPlot.js';
import { exportFigure } from '../exportFigure.js';
import { button, panel, plotColors, post } from '../panel.js';

/** Exact answers by default: the organism answers in the needle's shape with a wrong value when it cannot read it, which ROUGE counts. */
let metric: AblationMetric = 'exact';

const pct = (f: number) => `${(100 * f).toFixed(1)}%`;

export function kvWhatifTab(): HTMLElement {
  const { state } = panel;
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-kvwhatif' });
  const v = state.kvWhatif;
  if (!v) {
    root.append(
      h(
        'p',
        { class: 'empty', 'data-testid': 'kvwhatif-empty' },
        'No KV what-if yet. "KV what-if…" keeps the whole KV cache only for the KV heads of the top-k retrieval heads, gives every other head a sink and a recent window, and measures NIAH accuracy against as many random KV heads kept whole.',
      ),
    );
    root.append(
      button('KV what-if…', 'btn-kvwhatif-2', () => post({ type: 'command', command: 'kvWhatif' }), {
        disabled: !state.map || Boolean(state.busy),
      }),
    );
    return root;
  }
  root.append(
    h(
      'div',
      { class: 'summary', 'data-testid': 'kvwhatif-summary' },
      h('strong', {}, v.name),
      ` · ${v.cases} fresh cases · restricted heads keep sink ${v.sink} + window ${v.window} · random: ${v.randomTrials} trial${v.randomTrials === 1 ? '' : 's'}`,
    ),
  );
  const sw = h('div', { class: 'row', role: 'radiogroup', 'data-testid': 'kvwhatif-metric' });
  for (const [id, label] of [
    ['exact', 'Exact answer'],
    ['rouge', 'ROUGE-1 recall > 0.5'],
  ] as [AblationMetric, string][]) {
    const b = button(label, `kv-metric-${id}`, () => ((metric = id), panel.render()), { secondary: metric !== id });
    b.setAttribute('aria-checked', String(metric === id));
    sw.append(b);
  }
  root.append(sw);
  const fig = h('div', { class: 'figure' });
  fig.append(drawKvWhatif(v, plotColors(), metric));
  root.append(fig);
  root.append(
    h(
      'div',
      { class: 'row' },
      button('Export JSON', 'btn-kvwhatif-json', () => post({ type: 'exportJson', figure: 'kvwhatif' }), { secondary: true }),
      button('Export SVG', 'btn-kvwhatif-svg', () => void exportFigure('kvwhatif', 'svg'), { secondary: true }),
      button('Export PNG', 'btn-kvwhatif-png', () => void exportFigure('kvwhatif', 'png'), { secondary: true }),
    ),
  );
  const val = (p: { accuracy: number; exact: number }) => fmt(metric === 'exact' ? p.exact : p.accuracy, 2);
  const t = h(
    'table',
    { class: 'overlap', 'data-testid': 'kvwhatif-table' },
    h(
      'tr',
      {},
      h('th', {}, 'k'),
      h('th', {}, 'KV heads whole'),
      h('th', {}, 'KV memory'),
      h('th', {}, 'retrieval kept'),
      h('th', {}, 'random kept'),
    ),
  );
  t.append(
    h(
      'tr',
      {},
      h('td', {}, 'none'),
      h('td', {}, '0'),
      h('td', {}, pct(v.windowOnly.kvFraction)),
      h('td', {}, val(v.windowOnly)),
      h('td', {}, ''),
    ),
  );
  for (const top of v.points.filter((p) => p.keep === 'retrieval')) {
    const rnd = v.points.find((p) => p.keep === 'random' && p.k === top.k);
    t.append(
      h(
        'tr',
        { 'data-testid': `kv-row-${top.k}` },
        h('td', {}, String(top.k)),
        h('td', {}, String(top.keptKvHeads)),
        h('td', {}, pct(top.kvFraction)),
        h('td', { 'data-testid': `kv-retrieval-${top.k}` }, val(top)),
        h('td', { 'data-testid': `kv-random-${top.k}` }, rnd ? val(rnd) : ''),
      ),
    );
  }
  t.append(
    h(
      'tr',
      {},
      h('td', {}, 'whole cache'),
      h('td', {}, 'all'),
      h('td', {}, '100%'),
      h('td', { 'data-testid': 'kv-baseline' }, val(v.baseline)),
      h('td', {}, ''),
    ),
  );
  root.append(t);
  return root;
}
