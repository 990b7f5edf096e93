// The ablation tab: accuracy as the top-k retrieval heads or k random heads are masked, by either
// success measure: the paper's ROUGE-1 recall, or exact answers.
import type { AblationMetric } from '../../src/shared/webviewProtocol.js';
import { fmt, h } from '../dom.js';
import { drawAblation } from '../plots.js';
import { exportFigure } from '../exportFigure.js';
import { button, panel, plotColors, post } from '../panel.js';

/** The plotted measure: the panel's own choice, kept across redraws. */
let metric: AblationMetric = 'rouge';

const METRICS: [AblationMetric, string, string][] = [
  [
    'rouge',
    'ROUGE-1 recall (the paper’s)',
    'Success = the answer recalls more than half of the needle’s words (ROUGE-1 recall > 0.5): the NIAH score of the paper (Wu et al.).',
  ],
  [
    'exact',
    'Exact answer',
    'Success = the answer contains the whole needle answer. Stricter: a masked model that still repeats the question’s words (“X’s code is …”) with a wrong value fails here while ROUGE may count it.',
  ],
];

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
  const hasExact = state.ablations.every((a) => a.baselineExact !== null);
  if (!hasExact) metric = 'rouge';
  root.append(metricSwitch(hasExact));
  const fig = h('div', { class: 'figure' });
  fig.append(drawAblation(state.ablations, plotColors(), metric));
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
    const exact = a.baselineExact !== null;
    const t = h(
      'table',
      { class: 'ablation', 'data-testid': `ablation-table-${i}` },
      h('caption', {}, `${a.name} (baseline ${fmt(a.baseline, 2)} ROUGE${exact ? `, ${fmt(a.baselineExact, 2)} exact` : ''})`),
    );
    t.append(
      h(
        'tr',
        {},
        h('th', {}, 'k'),
        h('th', {}, 'top-k masked'),
        h('th', {}, 'random (mean)'),
        h('th', {}, 'random (min–max)'),
        exact ? h('th', {}, 'top-k, exact') : null,
        exact ? h('th', {}, 'random, exact') : null,
      ),
    );
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
          r.exact ? h('td', { 'data-testid': `ablation-exact-top-${i}-${r.k}` }, fmt(r.exact.top, 2)) : null,
          r.exact ? h('td', {}, fmt(r.exact.mean, 2)) : null,
        ),
      );
    }
    root.append(t);
  }
  return root;
}

/** Two buttons that pick the plotted measure, and a line saying what it counts. */
function metricSwitch(hasExact: boolean): HTMLElement {
  const box = h('div', { class: 'metric' });
  const group = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'Success measure' });
  for (const [id, label] of METRICS) {
    const on = metric === id;
    const b = h(
      'button',
      {
        class: `seg${on ? ' on' : ''}`,
        role: 'radio',
        'aria-checked': on ? 'true' : 'false',
        'data-testid': `metric-${id}`,
        disabled: id === 'exact' && !hasExact,
        title: id === 'exact' && !hasExact ? 'This ablation file has no exact-answer figures' : undefined,
      },
      label,
    );
    b.addEventListener('click', () => {
      if (metric === id) return;
      metric = id;
      panel.render();
    });
    group.append(b);
  }
  box.append(h('div', { class: 'row' }, h('span', {}, 'Success measure'), group));
  box.append(h('p', { class: 'hint', 'data-testid': 'metric-note' }, METRICS.find(([id]) => id === metric)![2]));
  return box;
}
