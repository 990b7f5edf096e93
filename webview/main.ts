// The Retrieval Lens panel. Renders the PanelState the extension posts and reports what the
// user does; it holds no state of its own beyond what vscode.setState keeps for re-showing.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import type { FigureKind, FromWebview, HeadRef, PanelState, PanelTab, ToWebview } from '../src/shared/webviewProtocol.js';
import { emptyState } from '../src/shared/webviewProtocol.js';
import { wordDiff } from '../src/shared/wordDiff.js';
import { toHex } from '../src/shared/colorScale.js';
import { drawScoreMap, type MapColors } from './scoreMap.js';
import { drawAblation, drawScatter, type PlotColors } from './plots.js';
import { fmt, h, svgText, svgToPng, themeColor } from './dom.js';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const post = (m: FromWebview) => vscode.postMessage(m);

let state: PanelState = ((vscode.getState() as { state?: PanelState } | undefined)?.state) ?? emptyState();
let question: string | null = null;
const app = document.getElementById('app')!;
const tooltip = h('div', { class: 'tooltip', 'data-testid': 'tooltip', role: 'tooltip', hidden: true });
document.body.append(tooltip);

function mapColors(): MapColors {
  const bg = themeColor('--vscode-editor-background', '#1e1e1e');
  return {
    bg,
    fg: themeColor('--vscode-editor-foreground', '#cccccc'),
    low: themeColor('--vscode-editorWidget-background', toHex(bg)),
    high: themeColor('--vscode-charts-orange', '#d18616'),
    accent: themeColor('--vscode-charts-red', '#f14c4c'),
    masked: themeColor('--vscode-charts-purple', '#b180d7'),
  };
}

function plotColors(): PlotColors {
  return {
    bg: themeColor('--vscode-editor-background', '#1e1e1e'),
    fg: themeColor('--vscode-editor-foreground', '#cccccc'),
    top: themeColor('--vscode-charts-red', '#f14c4c'),
    random: themeColor('--vscode-charts-blue', '#3794ff'),
    grid: themeColor('--vscode-editorWidget-border', '#454545'),
  };
}

const button = (label: string, testid: string, onClick: () => void, opts: { secondary?: boolean; disabled?: boolean; title?: string } = {}) => {
  const b = h('vscode-button', { 'data-testid': testid, secondary: opts.secondary, disabled: opts.disabled, title: opts.title }, label);
  b.addEventListener('click', () => {
    if (!(b as unknown as { disabled: boolean }).disabled) onClick();
  });
  return b;
};

const isMasked = (hd: HeadRef) => state.masks.some((m) => m.layer === hd.layer && m.head === hd.head);

// ---------------------------------------------------------------- tabs and toolbar
const TABS: [PanelTab, string][] = [
  ['map', 'Score map'],
  ['highlights', 'Needle highlights'],
  ['ablation', 'Ablation'],
  ['compare', 'Compare'],
];

function toolbar(): HTMLElement {
  return h(
    'div',
    { class: 'toolbar', 'data-testid': 'toolbar' },
    button('Find retrieval heads', 'btn-find', () => post({ type: 'command', command: 'findRetrievalHeads' }), { disabled: Boolean(state.busy), title: 'Run detection on the active editor (selection or whole document)' }),
    button('Open scores…', 'btn-open-scores', () => post({ type: 'command', command: 'openScores' }), { secondary: true }),
    button('Export scores…', 'btn-export-scores', () => post({ type: 'command', command: 'exportScores' }), { secondary: true, disabled: !state.map }),
    button('Run ablation…', 'btn-run-ablation', () => post({ type: 'command', command: 'runAblation' }), { secondary: true, disabled: !state.map || Boolean(state.busy) }),
    button('Compare runs…', 'btn-compare', () => post({ type: 'command', command: 'compareRuns' }), { secondary: true }),
  );
}

function tabs(): HTMLElement {
  const bar = h('div', { class: 'tabs', role: 'tablist', 'data-testid': 'tabs' });
  for (const [id, label] of TABS) {
    const t = h('button', { class: `tab${state.tab === id ? ' active' : ''}`, role: 'tab', 'aria-selected': state.tab === id ? 'true' : 'false', 'data-testid': `tab-${id}` }, label);
    t.addEventListener('click', () => {
      state = { ...state, tab: id };
      post({ type: 'setTab', tab: id });
      render();
    });
    bar.append(t);
  }
  return bar;
}

// ---------------------------------------------------------------- score map tab
function mapTab(): HTMLElement {
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-map' });
  const m = state.map;
  if (!m) {
    root.append(h('p', { class: 'empty', 'data-testid': 'map-empty' }, 'No scores yet. Select text in an editor and run "Retrieval Lens: Find retrieval heads for this context", or open a scores file.'));
    return root;
  }
  const total = m.layers * m.heads;
  root.append(
    h(
      'div',
      { class: 'summary', 'data-testid': 'map-summary', 'data-retrieval-count': m.retrievalCount, 'data-layers': m.layers, 'data-heads': m.heads },
      h('strong', {}, m.name),
      ` · ${m.modelId} · ${m.layers} layers × ${m.heads} heads · `,
      h('span', { 'data-testid': 'retrieval-count' }, `${m.retrievalCount} retrieval heads (${((100 * m.retrievalCount) / Math.max(total, 1)).toFixed(1)}%)`),
      m.totalCases ? ` · ${m.countedCases}/${m.totalCases} cases counted` : ' · score file',
      m.alwaysActive.length ? ` · ${m.alwaysActive.length} always active (dotted)` : '',
    ),
  );
  const svg = drawScoreMap(m, state.selected, state.masks, mapColors());
  const wrap = h('div', { class: 'figure', 'data-testid': 'score-map-wrap' });
  wrap.append(svg);
  svg.addEventListener('mousemove', (e) => {
    const g = (e.target as Element).closest('g.cell');
    if (!g) {
      tooltip.hidden = true;
      return;
    }
    const l = Number(g.getAttribute('data-layer'));
    const hd = Number(g.getAttribute('data-head'));
    const score = m.scores[l]?.[hd] ?? 0;
    const active = m.activeCases ? `active in ${m.activeCases[l][hd]} of ${m.countedCases} counted cases` : 'cases: not in this file';
    tooltip.textContent = `Layer ${l}, head ${hd}\nscore ${fmt(score)}${score >= m.threshold ? ' (retrieval head)' : ''}\n${active}${isMasked({ layer: l, head: hd }) ? '\nmasked' : ''}`;
    tooltip.hidden = false;
    tooltip.style.left = `${e.clientX + 12}px`;
    tooltip.style.top = `${e.clientY + 12}px`;
  });
  svg.addEventListener('mouseleave', () => (tooltip.hidden = true));
  svg.addEventListener('click', (e) => {
    const g = (e.target as Element).closest('g.cell');
    if (!g) return;
    const head = { layer: Number(g.getAttribute('data-layer')), head: Number(g.getAttribute('data-head')) };
    state = { ...state, selected: head };
    post({ type: 'selectHead', head });
    render();
  });
  root.append(wrap);
  root.append(
    h(
      'div',
      { class: 'row' },
      button('Export SVG', 'btn-export-svg', () => exportFigure('scoreMap', 'svg'), { secondary: true }),
      button('Export PNG', 'btn-export-png', () => exportFigure('scoreMap', 'png'), { secondary: true }),
      button('Mask all retrieval heads', 'btn-mask-all', () => post({ type: 'command', command: 'maskAllRetrievalHeads' }), { secondary: true }),
      button('Clear masks', 'btn-clear-masks', () => post({ type: 'command', command: 'clearMasks' }), { secondary: true, disabled: !state.masks.length }),
    ),
  );
  root.append(selectedHead());
  if (m.accuracy) root.append(accuracyTable(m.accuracy));
  return root;
}

function maskBox(hd: HeadRef, testid: string, label = 'masked'): HTMLElement {
  const cb = h('vscode-checkbox', { 'data-testid': testid, label, checked: isMasked(hd) });
  cb.addEventListener('change', () => post({ type: 'setMask', head: hd, masked: (cb as unknown as { checked: boolean }).checked }));
  return cb;
}

function selectedHead(): HTMLElement {
  const m = state.map!;
  const sel = state.selected;
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
    button('Show highlights', 'btn-show-highlights', () => {
      state = { ...state, tab: 'highlights' };
      post({ type: 'setTab', tab: 'highlights' });
      if (!state.highlight) post({ type: 'inspect' });
      render();
    }, { secondary: true }),
  );
  return box;
}

function accuracyTable(acc: NonNullable<PanelState['map']>['accuracy'] & object): HTMLElement {
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

// ---------------------------------------------------------------- highlights tab
function highlightsTab(): HTMLElement {
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-highlights', tabindex: 0 });
  const hl = state.highlight;
  const head = h('div', { class: 'row' });
  head.append(button(hl ? 'Re-run highlights' : 'Show needle highlights', 'btn-inspect', () => post({ type: 'inspect' }), { secondary: Boolean(hl), disabled: !state.map || Boolean(state.busy) }));
  const topBox = h('vscode-checkbox', { 'data-testid': 'highlight-top', label: 'top retrieval heads together', checked: hl ? hl.heads.startsWith('top') : false });
  topBox.addEventListener('change', () => post({ type: 'highlightTop', top: (topBox as unknown as { checked: boolean }).checked }));
  head.append(topBox);
  root.append(head);
  if (!hl) {
    root.append(h('p', { class: 'empty', 'data-testid': 'highlights-empty' }, state.map ? 'Highlights run one generation on your text with a needle inserted, and show where the selected head reads at each generated token.' : 'Find retrieval heads on a document first.'));
  } else {
    const n = hl.steps.length;
    const step = Math.min(state.step, Math.max(0, n - 1));
    root.append(
      h('div', { class: 'row' }, h('span', { 'data-testid': 'highlight-heads' }, `Attention of ${hl.heads}`), ' · ', h('span', {}, `question: ${hl.question}`)),
    );
    const controls = h(
      'div',
      { class: 'row step-controls' },
      button('◀ Prev', 'btn-step-prev', () => setStep(step - 1), { secondary: true, disabled: step <= 0 }),
      h('span', { 'data-testid': 'step-label', 'data-step': step, 'data-steps': n }, n ? `step ${step + 1}/${n}: generating ${JSON.stringify(hl.steps[step])}` : 'no tokens generated'),
      button('Next ▶', 'btn-step-next', () => setStep(step + 1), { secondary: true, disabled: step >= n - 1 }),
    );
    root.append(controls);
    const gen = h('div', { class: 'generated', 'data-testid': 'generated' }, h('span', { class: 'label' }, 'answer: '));
    hl.steps.forEach((t, i) => {
      const sp = h('span', { class: `gen${i === step ? ' current' : ''}`, 'data-testid': `gen-token-${i}` }, t || '∅');
      sp.addEventListener('click', () => setStep(i));
      gen.append(sp);
    });
    root.append(gen);
    const att = hl.attention[step] ?? { pos: [], w: [] };
    const weights = new Map<number, number>();
    const top = Math.max(1e-9, ...att.w);
    att.pos.forEach((p, i) => weights.set(p, att.w[i] / top));
    const strongest = att.pos[0];
    const text = h('div', { class: 'prompt', 'data-testid': 'prompt-tokens', 'data-strongest': strongest ?? '' });
    hl.tokens.forEach((t, i) => {
      const inNeedle = i >= hl.needleSpan[0] && i < hl.needleSpan[1];
      const w = weights.get(i) ?? 0;
      const sp = h('span', { class: `tok${inNeedle ? ' needle' : ''}${w > 0.02 ? ' attended' : ''}${i === strongest ? ' strongest' : ''}`, 'data-testid': `tok-${i}`, 'data-weight': w > 0 ? w.toFixed(3) : undefined }, t);
      if (w > 0) sp.style.setProperty('--w', w.toFixed(3));
      if (w > 0) sp.title = `token ${i}: weight ${fmt(att.w[att.pos.indexOf(i)], 4)}`;
      text.append(sp);
    });
    root.append(text);
    root.append(h('p', { class: 'hint' }, 'Needle answer span underlined; background = attention of the highlighted heads at this step (relative to the strongest). ← / → step.'));
  }
  root.append(h('vscode-divider'));
  root.append(regenerateSection());
  return root;
}

function setStep(i: number): void {
  const n = state.highlight?.steps.length ?? 0;
  const step = Math.max(0, Math.min(n - 1, i));
  if (step === state.step) return;
  state = { ...state, step };
  post({ type: 'setStep', step });
  render();
}

function regenerateSection(): HTMLElement {
  const r = state.regenerate;
  const box = h('div', { class: 'regenerate', 'data-testid': 'regenerate' });
  box.append(h('h3', {}, 'Mask and re-generate'));
  const q = h('vscode-textfield', { 'data-testid': 'question', placeholder: 'Question about the text', value: question ?? r?.question ?? state.highlight?.question ?? '' });
  q.addEventListener('input', () => (question = (q as unknown as { value: string }).value));
  const mode = h('vscode-single-select', { 'data-testid': 'mask-mode' }, h('vscode-option', { value: 'uniform', selected: state.maskMode === 'uniform' }, 'uniform (paper)'), h('vscode-option', { value: 'zero', selected: state.maskMode === 'zero' }, 'zero output'));
  mode.addEventListener('change', () => post({ type: 'setMaskMode', mode: (mode as unknown as { value: string }).value === 'zero' ? 'zero' : 'uniform' }));
  const scope = h('vscode-single-select', { 'data-testid': 'mask-scope' }, h('vscode-option', { value: 'decode', selected: state.maskScope === 'decode' }, 'decode only (paper)'), h('vscode-option', { value: 'all', selected: state.maskScope === 'all' }, 'all positions'));
  scope.addEventListener('change', () => post({ type: 'setMaskScope', scope: (scope as unknown as { value: string }).value === 'all' ? 'all' : 'decode' }));
  const go = button(r?.busy ? 'Generating…' : 'Generate with and without masks', 'btn-regenerate', () => post({ type: 'regenerate', question: (q as unknown as { value: string }).value }), { disabled: !state.map || Boolean(state.busy) });
  box.append(h('div', { class: 'row' }, q, go));
  box.append(h('div', { class: 'row' }, h('label', {}, 'mask mode '), mode, h('label', {}, ' scope '), scope));
  const masks = h('div', { class: 'row masks', 'data-testid': 'mask-list', 'data-count': state.masks.length });
  masks.append(state.masks.length ? `${state.masks.length} masked: ` : 'No heads masked (tick heads in the Head explorer or on the score map).');
  for (const m of state.masks) masks.append(maskBox(m, `mask-chip-${m.layer}-${m.head}`, `${m.layer}-${m.head}`));
  box.append(masks);
  if (r) {
    if (r.error) box.append(h('p', { class: 'error', 'data-testid': 'regenerate-error' }, r.error));
    const d = r.plain !== null && r.masked !== null ? wordDiff(r.plain, r.masked) : null;
    const col = (title: string, text: string | null, parts: { text: string; same: boolean }[] | null, testid: string) => {
      const p = h('div', { class: 'answer', 'data-testid': testid, 'data-text': text ?? '' });
      p.append(h('div', { class: 'answer-title' }, title));
      const body = h('div', { class: 'answer-text' });
      if (text === null) body.append(r.busy ? '…' : '(not generated)');
      else if (parts) for (const part of parts) body.append(part.same ? part.text : h('mark', { class: 'diff', 'data-testid': 'diff-word' }, part.text));
      else body.append(text);
      p.append(body);
      return p;
    };
    box.append(
      h(
        'div',
        { class: 'answers' },
        col('without masks', r.plain, d?.a ?? null, 'answer-plain'),
        col(r.maskedHeads.length ? `with ${r.maskedHeads.length} heads masked (${r.maskMode}, ${r.maskScope}): ${r.maskedHeads.join(', ')}` : 'with masks (none set)', r.masked, d?.b ?? null, 'answer-masked'),
      ),
    );
  }
  return box;
}

// ---------------------------------------------------------------- ablation and compare tabs
function ablationTab(): HTMLElement {
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-ablation' });
  if (!state.ablations.length) {
    root.append(h('p', { class: 'empty', 'data-testid': 'ablation-empty' }, 'No ablation yet. "Run ablation…" masks the top-k retrieval heads and k random heads and measures NIAH accuracy.'));
    root.append(button('Run ablation…', 'btn-run-ablation-2', () => post({ type: 'command', command: 'runAblation' }), { disabled: !state.map || Boolean(state.busy) }));
    return root;
  }
  const fig = h('div', { class: 'figure' });
  fig.append(drawAblation(state.ablations, plotColors()));
  root.append(fig);
  root.append(
    h(
      'div',
      { class: 'row' },
      button('Export SVG', 'btn-ablation-svg', () => exportFigure('ablation', 'svg'), { secondary: true }),
      button('Export PNG', 'btn-ablation-png', () => exportFigure('ablation', 'png'), { secondary: true }),
      button('Export JSON', 'btn-ablation-json', () => post({ type: 'exportJson', figure: 'ablation' }), { secondary: true }),
    ),
  );
  for (const [i, a] of state.ablations.entries()) {
    const t = h('table', { class: 'ablation', 'data-testid': `ablation-table-${i}` }, h('caption', {}, `${a.name} (baseline ${fmt(a.baseline, 2)})`));
    t.append(h('tr', {}, h('th', {}, 'k'), h('th', {}, 'top-k masked'), h('th', {}, 'random (mean)'), h('th', {}, 'random (min–max)')));
    for (const r of a.rows) {
      t.append(h('tr', { 'data-testid': `ablation-row-${i}-${r.k}` }, h('td', {}, String(r.k)), h('td', {}, fmt(r.top, 2)), h('td', {}, fmt(r.mean, 2)), h('td', {}, r.random.length ? `${fmt(r.min, 2)}–${fmt(r.max, 2)}` : '–')));
    }
    root.append(t);
  }
  return root;
}

function compareTab(): HTMLElement {
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-compare' });
  const c = state.compare;
  if (!c) {
    root.append(h('p', { class: 'empty', 'data-testid': 'compare-empty' }, 'Pick two runs or score files to compare their scores (correlation, top-k overlap).'));
    root.append(button('Compare runs…', 'btn-compare-2', () => post({ type: 'command', command: 'compareRuns' })));
    return root;
  }
  root.append(h('div', { class: 'summary' }, h('strong', {}, c.a), ' vs ', h('strong', {}, c.b), c.note ? ` · ${c.note}` : ''));
  root.append(
    h('div', { class: 'row stats' }, h('span', { 'data-testid': 'compare-pearson', 'data-value': c.pearson ?? '' }, `Pearson r = ${fmt(c.pearson)}`), ' · ', h('span', { 'data-testid': 'compare-spearman', 'data-value': c.spearman ?? '' }, `Spearman ρ = ${fmt(c.spearman)}`)),
  );
  const t = h('table', { class: 'overlap', 'data-testid': 'compare-overlap' }, h('tr', {}, h('th', {}, 'k'), h('th', {}, 'shared top-k heads'), h('th', {}, 'overlap')));
  for (const o of c.overlap) t.append(h('tr', { 'data-testid': `overlap-${o.k}` }, h('td', {}, String(o.k)), h('td', {}, String(o.shared)), h('td', {}, fmt(o.fraction, 2))));
  root.append(t);
  const fig = h('div', { class: 'figure' });
  fig.append(drawScatter(c, plotColors()));
  root.append(fig);
  return root;
}

// ---------------------------------------------------------------- export and render
async function exportFigure(figure: FigureKind, format: 'svg' | 'png'): Promise<void> {
  const id = figure === 'scoreMap' ? 'score-map' : figure === 'ablation' ? 'ablation-plot' : 'compare-scatter';
  const svg = document.querySelector(`[data-testid="${id}"]`) as SVGSVGElement | null;
  if (!svg) {
    post({ type: 'error', message: `no ${figure} figure to export` });
    return;
  }
  try {
    const data = format === 'svg' ? svgText(svg) : await svgToPng(svg, toHex(themeColor('--vscode-editor-background', '#1e1e1e')));
    post({ type: 'figure', figure, format, data });
  } catch (e) {
    post({ type: 'error', message: `export failed: ${(e as Error).message}` });
  }
}

function render(): void {
  vscode.setState({ state });
  // Re-rendering replaces the focused control; give focus back only when the panel has it. A state
  // update that arrives while the user is elsewhere (a quick pick, the editor) must not pull focus
  // into the webview: that closes the quick pick under the user's cursor.
  const focused = document.hasFocus() ? document.activeElement?.getAttribute('data-testid') : null;
  app.replaceChildren();
  app.setAttribute('data-tab', state.tab);
  app.setAttribute('data-busy', state.busy ? 'true' : 'false');
  app.append(toolbar());
  if (state.busy) app.append(h('div', { class: 'busy', 'data-testid': 'busy' }, h('vscode-progress-bar', { indeterminate: true }), h('span', {}, `${state.busy}…`)));
  app.append(tabs());
  const panel = state.tab === 'map' ? mapTab() : state.tab === 'highlights' ? highlightsTab() : state.tab === 'ablation' ? ablationTab() : compareTab();
  app.append(panel);
  if (focused) (app.querySelector(`[data-testid="${focused}"]`) as HTMLElement | null)?.focus();
}

window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
  const m = e.data;
  if (m?.type === 'state') {
    state = m.state;
    render();
  } else if (m?.type === 'exportFigure') {
    if (m.figure !== state.tab && !(m.figure === 'scoreMap' && state.tab === 'map')) {
      state = { ...state, tab: m.figure === 'scoreMap' ? 'map' : m.figure };
      render();
    }
    void exportFigure(m.figure, m.format);
  }
});

document.addEventListener('keydown', (e) => {
  if (state.tab !== 'highlights' || !state.highlight) return;
  const t = e.target as HTMLElement;
  if (t.tagName === 'VSCODE-TEXTFIELD' || t.tagName === 'INPUT' || t.tagName === 'TEXTAREA') return;
  if (e.key === 'ArrowRight') {
    setStep(state.step + 1);
    e.preventDefault();
  } else if (e.key === 'ArrowLeft') {
    setStep(state.step - 1);
    e.preventDefault();
  }
});

render();
post({ type: 'ready' });
