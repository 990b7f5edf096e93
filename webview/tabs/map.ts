// The score-map tab: the layer x head map, the selected head, and the run's NIAH accuracy table.
import type { PanelState } from '../../src/shared/webviewProtocol.js';
import { drawScoreMap } from '../scoreMap.js';
import { fmt, h } from '../dom.js';
import { exportFigure } from '../exportFigure.js';
import { button, isMasked, mapColors, maskBox, panel, post, room, update } from '../panel.js';

type ScoreMap = NonNullable<PanelState['map']>;

export function mapTab(tooltip: HTMLElement): HTMLElement {
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-map' });
  const m = panel.state.map;
  if (!m) {
    root.append(
      h(
        'p',
        { class: 'empty', 'data-testid': 'map-empty' },
        'No scores yet. Select text in an editor and run "Retrieval Lens: Find retrieval heads for this context", or open a scores file.',
      ),
    );
    return root;
  }
  root.append(summary(m));
  const svg = drawScoreMap(m, panel.state.selected, panel.state.masks, mapColors(), room());
  const wrap = h('div', { class: 'figure', 'data-testid': 'score-map-wrap' });
  wrap.append(svg);
  svg.addEventListener('mousemove', (e) => showCellTooltip(m, tooltip, e));
  svg.addEventListener('mouseleave', () => (tooltip.hidden = true));
  svg.addEventListener('click', (e) => {
    const g = (e.target as Element).closest('g.cell');
    if (!g) return;
    const head = { layer: Number(g.getAttribute('data-layer')), head: Number(g.getAttribute('data-head')) };
    post({ type: 'selectHead', head });
    update({ selected: head });
  });
  root.append(wrap);
  root.append(
    h(
      'div',
      { class: 'row' },
      button('Export SVG', 'btn-export-svg', () => void exportFigure('scoreMap', 'svg'), { secondary: true }),
      button('Export PNG', 'btn-export-png', () => void exportFigure('scoreMap', 'png'), { secondary: true }),
      button('Mask all retrieval heads', 'btn-mask-all', () => post({ type: 'command', command: 'maskAllRetrievalHeads' }), {
        secondary: true,
      }),
      button('Clear masks', 'btn-clear-masks', () => post({ type: 'command', command: 'clearMasks' }), {
        secondary: true,
        disabled: !panel.state.masks.length,
      }),
    ),
  );
  root.append(selectedHead(m));
  if (m.accuracy) root.append(accuracyTable(m.accuracy));
  return root;
}

function summary(m: ScoreMap): HTMLElement {
  const total = m.layers * m.heads;
  // Each name once: a run's name already holds its model's ("doc.txt · model"), a file's is its model id.
  const named = m.name.split(' · ').includes(m.modelName);
  return h(
    'div',
    {
      class: 'summary',
      'data-testid': 'map-summary',
      'data-retrieval-count': m.retrievalCount,
      'data-layers': m.layers,
      'data-heads': m.heads,
      title: `model: ${m.modelId}`,
    },
    h('strong', {}, m.name),
    named ? '' : ` · ${m.modelName}`,
    ` · ${m.layers} layers × ${m.heads} heads · `,
    h(
      'span',
      { 'data-testid': 'retrieval-count' },
      `${m.retrievalCount} retrieval heads (${((100 * m.retrievalCount) / Math.max(total, 1)).toFixed(1)}%)`,
    ),
    m.totalCases ? ` · ${m.countedCases}/${m.totalCases} cases counted` : ' · score file',
    m.alwaysActive.length ? ` · ${m.alwaysActive.length} always active (dotted)` : '',
    m.origin ? ' · ' : '',
    m.origin ? h('span', { 'data-testid': 'map-origin', 'data-origin': m.origin }, m.origin) : '',
  );
}

function showCellTooltip(m: ScoreMap, tooltip: HTMLElement, e: MouseEvent): void {
  const g = (e.target as Element).closest('g.cell');
  if (!g) {
    tooltip.hidden = true;
    return;
  }
  const l = Number(g.getAttribute('data-layer'));
  const hd = Number(g.getAttribute('data-head'));
  const score = m.scores[l]?.[hd] ?? 0;
  const active = m.activeCases ? `active in ${m.activeCases[l][hd]} of ${m.countedCases} counted cases` : 'cases: not in this file';
  const retrieval = score >= m.threshold ? ' (retrieval head)' : '';
  const masked = isMasked({ layer: l, head: hd }) ? '\nmasked' : '';
  tooltip.textContent = `Layer ${l}, head ${hd}\nscore ${fmt(score)}${retrieval}\n${active}${masked}`;
  tooltip.hidden = false;
  tooltip.style.left = `${e.clientX + 12}px`;
  tooltip.style.top = `${e.clientY + 12}px`;
}

function selectedHead(m: ScoreMap): HTMLElement {
  const sel = panel.state.selected;
  const box = h('div', { class: 'selected-head', 'data-testid': 'selected-head' });
  if (!sel || sel.layer >= m.layers || sel.head >= m.heads) {
    box.append('Click a cell (or a head in the Head explorer) to select a head.');
    return box;
  }
  const score = m.scores[sel.layer][sel.head];
  box.setAttribute('data-layer', String(sel.layer));
  box.setAttribute('data-head', String(sel.head));
  box.append(
    h('strong', { 'data-testid': 'selected-head-label' }, `Layer ${sel.layer}, head ${sel.head}`),
    h('span', { 'data-testid': 'selected-head-score' }, ` · score ${fmt(score)}${score >= m.threshold ? ' · retrieval head' : ''}`),
    m.activeCases ? ` · active in ${m.activeCases[sel.layer][sel.head]}/${m.countedCases} cases` : '',
    ' ',
    maskBox(sel, 'mask-selected', 'mask this head'),
    ' ',
    button(
      'Show highlights',
      'btn-show-highlights',
      () => {
        post({ type: 'setTab', tab: 'highlights' });
        if (!panel.state.highlight) post({ type: 'inspect' });
        update({ tab: 'highlights' });
      },
      { secondary: true },
    ),
  );
  return box;
}

function accuracyTable(acc: NonNullable<ScoreMap['accuracy']>): HTMLElement {
  const table = h('table', { class: 'accuracy', 'data-testid': 'accuracy-table' });
  table.append(h('caption', {}, 'NIAH accuracy of this run (rows: context length in tokens, columns: needle depth %)'));
  const head = h('tr', {}, h('th', {}, 'length \\ depth'));
  for (const d of acc.depths) head.append(h('th', {}, `${d}%`));
  table.append(h('thead', {}, head));
  const body = h('tbody');
  acc.lengths.forEach((len, i) => {
    const tr = h('tr', {}, h('th', {}, String(len)));
    acc.depths.forEach((d, j) => {
      const v = acc.values[i]?.[j];
      const td = h('td', { 'data-testid': `acc-${len}-${d}`, 'data-value': v ?? '' }, Number.isFinite(v) ? fmt(v, 2) : '–');
      td.style.setProperty('--acc', String(Number.isFinite(v) ? v : 0));
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  return table;
}
