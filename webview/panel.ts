// What every tab shares: the VS Code handle, the state the extension last posted, and the controls
// built the same way on every tab. The panel holds no state of its own beyond vscode.setState.
import type { FromWebview, HeadRef, PanelState } from '../src/shared/webviewProtocol.js';
import { emptyState } from '../src/shared/webviewProtocol.js';
import { toHex } from '../src/shared/colorScale.js';
import type { MapColors } from './scoreMap.js';
import type { PlotColors } from './plots.js';
import { h, themeColor } from './dom.js';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

export const post = (m: FromWebview): void => vscode.postMessage(m);

/** The panel's view of the world: replaced by each state message, patched by local clicks. */
export const panel: {
  state: PanelState;
  question: string | null;
  render: () => void;
  /** The running job's progress line (its own message, so it never redraws the panel). */
  progress: string | null;
} = {
  state: { ...emptyState(), ...(vscode.getState() as { state?: PanelState } | undefined)?.state },
  question: null,
  render: () => undefined,
  progress: null,
};

const afterRender: (() => void)[] = [];

/** Runs `fn` once the panel just drawn is in the page (to scroll or measure what a tab built). */
export function whenRendered(fn: () => void): void {
  afterRender.push(fn);
}

export function runAfterRender(): void {
  for (const fn of afterRender.splice(0)) fn();
}

/** The room a figure has: the panel's width less its padding, and its height. */
export function room(): { width: number; height: number } {
  return { width: Math.max(320, document.documentElement.clientWidth - 28), height: Math.max(300, window.innerHeight) };
}

export function saveState(): void {
  vscode.setState({ state: panel.state });
}

/** Patches the state locally (the extension hears of it through `post`) and redraws. */
export function update(patch: Partial<PanelState>): void {
  panel.state = { ...panel.state, ...patch };
  panel.render();
}

// vscode-elements expose their value and checked state as properties the DOM typings do not know.
export const valueOf = (el: HTMLElement): string => String((el as HTMLElement & { value?: unknown }).value ?? '');
export const checkedOf = (el: HTMLElement): boolean => Boolean((el as HTMLElement & { checked?: unknown }).checked);
const disabledOf = (el: HTMLElement): boolean => Boolean((el as HTMLElement & { disabled?: unknown }).disabled);

export function button(
  label: string | Node[],
  testid: string,
  onClick: () => void,
  opts: { secondary?: boolean; disabled?: boolean; title?: string } = {},
): HTMLElement {
  const b = h(
    'vscode-button',
    { 'data-testid': testid, secondary: opts.secondary, disabled: opts.disabled, title: opts.title },
    ...(typeof label === 'string' ? [label] : label),
  );
  b.addEventListener('click', () => {
    if (!disabledOf(b)) onClick();
  });
  return b;
}

export const isMasked = (hd: HeadRef): boolean => panel.state.masks.some((m) => m.layer === hd.layer && m.head === hd.head);

export function maskBox(hd: HeadRef, testid: string, label = 'masked'): HTMLElement {
  const cb = h('vscode-checkbox', { 'data-testid': testid, label, checked: isMasked(hd) });
  cb.addEventListener('change', () => post({ type: 'setMask', head: hd, masked: checkedOf(cb) }));
  return cb;
}

export function mapColors(): MapColors {
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

export function plotColors(): PlotColors {
  return {
    bg: themeColor('--vscode-editor-background', '#1e1e1e'),
    fg: themeColor('--vscode-editor-foreground', '#cccccc'),
    top: themeColor('--vscode-charts-red', '#f14c4c'),
    random: themeColor('--vscode-charts-blue', '#3794ff'),
    grid: themeColor('--vscode-editorWidget-border', '#454545'),
  };
}
