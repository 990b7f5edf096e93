// The Retrieval Lens panel: renders the PanelState the extension posts and reports what the user
// does. The toolbar and tab bar live here; each tab is drawn by its own module under tabs/.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import type { PanelTab, ToWebview } from '../src/shared/webviewProtocol.js';
import { h } from './dom.js';
import { exportFigure } from './exportFigure.js';
import { button, panel, post, runAfterRender, saveState, update } from './panel.js';
import { mapTab } from './tabs/map.js';
import { highlightsTab, setStep } from './tabs/highlights.js';
import { ablationTab } from './tabs/ablation.js';
import { compareTab } from './tabs/compare.js';
import { kvWhatifTab } from './tabs/kvwhatif.js';
import { attributionTab } from './tabs/attribution.js';

const app = document.getElementById('app')!;
const tooltip = h('div', { class: 'tooltip', 'data-testid': 'tooltip', role: 'tooltip', hidden: true });
document.body.append(tooltip);

const TABS: [PanelTab, string, () => HTMLElement][] = [
  ['map', 'Score map', () => mapTab(tooltip)],
  ['highlights', 'Needle highlights', highlightsTab],
  ['ablation', 'Ablation', ablationTab],
  ['compare', 'Compare', compareTab],
  ['kvwhatif', 'KV what-if', kvWhatifTab],
  ['attribution', 'Answer sources', attributionTab],
];

/** A toolbar label: the full one, and a short one that a narrow panel shows instead (CSS), so the bar never wraps. */
const label = (long: string, short: string) => [h('span', { class: 'long' }, long), h('span', { class: 'short' }, short)];

function toolbar(): HTMLElement {
  const { state } = panel;
  const command = (c: Parameters<typeof post>[0] & { type: 'command' }) => () => post(c);
  return h(
    'div',
    { class: 'toolbar', 'data-testid': 'toolbar' },
    button(label('Find retrieval heads', 'Find heads'), 'btn-find', command({ type: 'command', command: 'findRetrievalHeads' }), {
      disabled: Boolean(state.busy),
      title: 'Run detection on the active editor (selection or whole document)',
    }),
    button(label('Open scores…', 'Open…'), 'btn-open-scores', command({ type: 'command', command: 'openScores' }), {
      secondary: true,
      title: 'Open a scores file (Retrieval Lens JSON or the paper’s head_score format)',
    }),
    button(label('Export scores…', 'Export…'), 'btn-export-scores', command({ type: 'command', command: 'exportScores' }), {
      secondary: true,
      disabled: !state.map,
      title: 'Export the scores as JSON, head_score JSON or CSV',
    }),
    button(label('Run ablation…', 'Ablation…'), 'btn-run-ablation', command({ type: 'command', command: 'runAblation' }), {
      secondary: true,
      disabled: !state.map || Boolean(state.busy),
      title: 'Mask the top-k retrieval heads and k random heads, and measure NIAH accuracy',
    }),
    button(label('Compare runs…', 'Compare…'), 'btn-compare', command({ type: 'command', command: 'compareRuns' }), {
      secondary: true,
      title: 'Compare two runs or score files',
    }),
  );
}

/**
 * One line of fixed height under the toolbar: the running job and its progress, or the quiet
 * background work, or nothing. Its height never changes, so nothing below it moves.
 */
function statusLine(): HTMLElement {
  const { state } = panel;
  const what = state.busy ?? state.background;
  const line = h('div', {
    class: `status${state.busy ? ' busy' : state.background ? ' background' : ''}`,
    'data-testid': 'status-line',
    'data-state': state.busy ? 'busy' : state.background ? 'background' : 'idle',
    role: 'status',
    'aria-live': 'polite',
  });
  if (what) line.append(h('vscode-progress-bar', { indeterminate: true }));
  line.append(h('span', { class: 'status-text', 'data-testid': 'status-text' }, statusText()));
  return line;
}

function statusText(): string {
  const { state } = panel;
  const what = state.busy ?? state.background;
  if (!what) return '';
  const line = panel.progress && panel.progress.startsWith(what) ? panel.progress : `${what}…`;
  return state.busy ? line : `${line} (in the background)`;
}

function tabs(): HTMLElement {
  const bar = h('div', { class: 'tabs', role: 'tablist', 'data-testid': 'tabs' });
  for (const [id, label] of TABS) {
    const active = panel.state.tab === id;
    const t = h(
      'button',
      { class: `tab${active ? ' active' : ''}`, role: 'tab', 'aria-selected': active ? 'true' : 'false', 'data-testid': `tab-${id}` },
      label,
    );
    t.addEventListener('click', () => {
      post({ type: 'setTab', tab: id });
      update({ tab: id });
    });
    bar.append(t);
  }
  return bar;
}

function render(): void {
  const { state } = panel;
  saveState();
  // Re-rendering replaces the focused control; give focus back only when the panel has it. A state
  // update that arrives while the user is elsewhere (a quick pick, the editor) must not pull focus
  // into the webview: that closes the quick pick under the user's cursor.
  const focused = document.hasFocus() ? document.activeElement?.getAttribute('data-testid') : null;
  app.replaceChildren();
  app.setAttribute('data-tab', state.tab);
  app.setAttribute('data-busy', state.busy ? 'true' : 'false');
  app.setAttribute('data-background', state.background ? 'true' : 'false');
  app.append(toolbar());
  app.append(statusLine());
  app.append(tabs());
  const draw = TABS.find(([id]) => id === state.tab)?.[2] ?? TABS[0][2];
  app.append(draw());
  if (focused) app.querySelector<HTMLElement>(`[data-testid="${focused}"]`)?.focus();
  runAfterRender();
}
panel.render = render;

// Figures are drawn for the panel's width: draw again when it changes (debounced: a drag resizes often).
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
let lastWidth = document.documentElement.clientWidth;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (document.documentElement.clientWidth === lastWidth) return;
    lastWidth = document.documentElement.clientWidth;
    render();
  }, 150);
});

window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
  const m = e.data;
  if (m?.type === 'state') {
    panel.state = m.state;
    render();
  } else if (m?.type === 'progress') {
    panel.progress = m.text;
    const t = document.querySelector('[data-testid="status-text"]');
    if (t) t.textContent = statusText();
  } else if (m?.type === 'exportFigure') {
    const tab: PanelTab = m.figure === 'scoreMap' ? 'map' : m.figure;
    if (panel.state.tab !== tab) update({ tab });
    void exportFigure(m.figure, m.format);
  }
});

document.addEventListener('keydown', (e) => {
  if (panel.state.tab !== 'highlights' || !panel.state.highlight) return;
  const t = e.target as HTMLElement;
  if (t.tagName === 'VSCODE-TEXTFIELD' || t.tagName === 'INPUT' || t.tagName === 'TEXTAREA') return;
  if (e.key === 'ArrowRight') {
    setStep(panel.state.step + 1);
    e.preventDefault();
  } else if (e.key === 'ArrowLeft') {
    setStep(panel.state.step - 1);
    e.preventDefault();
  }
});

render();
post({ type: 'ready' });
