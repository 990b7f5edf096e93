// The compare tab: two score sets' agreement (Pearson, Spearman, Kendall), top-k overlap, scatter,
// and the heads only one of them ranks high; at query-head or KV-head level.
import type { CompareView } from '../../src/shared/webviewProtocol.js';
import { fmt, h } from '../dom.js';
import { drawScatter } from '../plots.js';
import { button, panel, plotColors, post, valueOf } from '../panel.js';

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
  root.append(
    h(
      'div',
      { class: 'summary', 'data-testid': 'compare-summary' },
      'A: ',
      h('strong', {}, c.a),
      c.originA ? ` (${c.originA})` : '',
      ' vs B: ',
      h('strong', {}, c.b),
      c.originB ? ` (${c.originB})` : '',
      c.note ? ` · ${c.note}` : '',
    ),
  );
  root.append(levelControls(c));
  if (c.warning) root.append(h('p', { class: 'warning', role: 'alert', 'data-testid': 'compare-warning' }, `⚠ ${c.warning}`));
  root.append(
    h(
      'div',
      { class: 'row stats' },
      h('span', { 'data-testid': 'compare-pearson', 'data-value': c.pearson ?? '' }, `Pearson r = ${fmt(c.pearson)}`),
      ' · ',
      h('span', { 'data-testid': 'compare-spearman', 'data-value': c.spearman ?? '' }, `Spearman ρ = ${fmt(c.spearman)}`),
      ' · ',
      h('span', { 'data-testid': 'compare-kendall', 'data-value': c.kendall ?? '' }, `Kendall τ = ${fmt(c.kendall)}`),
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
  if (c.disagreements) root.append(disagreementTable(c));
  return root;
}

/** Query heads or KV heads; at KV level, how each group's query heads are combined. */
function levelControls(c: CompareView): HTMLElement {
  const level = c.level ?? 'query';
  const agg = c.aggregation ?? 'max';
  const lv = h(
    'vscode-single-select',
    { 'data-testid': 'compare-level' },
    h('vscode-option', { value: 'query', selected: level === 'query' }, 'query heads'),
    h('vscode-option', { value: 'kv-max', selected: level === 'kv' && agg === 'max' }, 'KV heads (max over group)'),
    h('vscode-option', { value: 'kv-mean', selected: level === 'kv' && agg === 'mean' }, 'KV heads (mean over group)'),
  );
  lv.addEventListener('change', () => {
    const v = valueOf(lv);
    post({ type: 'setCompareLevel', level: v === 'query' ? 'query' : 'kv', aggregation: v === 'kv-mean' ? 'mean' : 'max' });
  });
  const named = level === 'kv' ? `KV heads, aggregation: ${agg} over each group's query heads` : 'query heads';
  return h(
    'div',
    { class: 'row' },
    h('label', {}, 'level'),
    lv,
    h(
      'span',
      { 'data-testid': 'compare-level-label', 'data-level': level, 'data-aggregation': c.aggregation ?? '' },
      `compared at: ${named} (${c.points.length} heads)`,
    ),
  );
}

function disagreementTable(c: CompareView): HTMLElement {
  const list = c.disagreements ?? [];
  const box = h('div', { 'data-testid': 'compare-disagreements', 'data-count': list.length });
  box.append(h('h3', {}, `Heads they disagree on (in one top ${c.disagreeK ?? ''}, not the other's)`));
  if (!list.length) {
    box.append(h('p', { class: 'empty' }, `None: both top ${c.disagreeK ?? ''} hold the same heads.`));
    return box;
  }
  const t = h(
    'table',
    { class: 'overlap' },
    h(
      'tr',
      {},
      h('th', {}, 'head'),
      h('th', {}, 'A score'),
      h('th', {}, 'A rank'),
      h('th', {}, 'B score'),
      h('th', {}, 'B rank'),
      h('th', {}, 'in the top of'),
    ),
  );
  for (const d of list)
    t.append(
      h(
        'tr',
        { 'data-testid': `disagree-${d.head}` },
        h('td', {}, d.head),
        h('td', {}, fmt(d.a)),
        h('td', {}, String(d.rankA)),
        h('td', {}, fmt(d.b)),
        h('td', {}, String(d.rankB)),
        h('td', {}, d.topOf === 'a' ? 'A' : 'B'),
      ),
    );
  box.append(t);
  return box;
}
