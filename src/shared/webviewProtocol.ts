// Every message between the extension and the Retrieval Lens panel (webview). Both sides import
// this file. The extension owns the state and posts all of it; the webview renders it and posts
// back what the user did. Nothing here imports vscode or the DOM.

import type { HeadRef, MaskMode, MaskScope } from './types.js';

export type { HeadRef, MaskMode, MaskScope };
export type FigureKind = 'scoreMap' | 'ablation' | 'compare';
export type PanelTab = 'map' | 'highlights' | 'ablation' | 'compare';

/** A score map as the panel draws it: a detection run or an opened score file. */
export interface ScoreMapView {
  /** Display name of the run or file. */
  name: string;
  source: 'run' | 'file';
  /** The model's id as the scores file has it (for a detection run: its folder path or hub id). */
  modelId: string;
  /** A short name for it (the folder's name), shown where the full id would be long. */
  modelName: string;
  layers: number;
  heads: number;
  /** [layer][head] */
  scores: number[][];
  /** [layer][head]: counted cases where the head scored above 0 (null for the paper's files). */
  activeCases: number[][] | null;
  countedCases: number;
  totalCases: number;
  threshold: number;
  retrievalCount: number;
  /** Heads active in every counted case, "layer-head". */
  alwaysActive: string[];
  accuracy: { lengths: number[]; depths: number[]; values: number[][] } | null;
}

/** The selected head's (or heads') attention over the prompt at each generated step. */
export interface HighlightView {
  /** Prompt tokens as text (special tokens are empty strings). */
  tokens: string[];
  /** Token range [start, end) of the needle's answer span. */
  needleSpan: [number, number];
  /** Token range [start, end) of the question ([0, 0] when unknown). */
  questionSpan: [number, number];
  /** Generated tokens. */
  steps: string[];
  /** Per step: prompt positions and their attention weights (0..1) for the highlighted heads. */
  attention: { pos: number[]; w: number[] }[];
  /** Which heads the attention belongs to ("5-5" or "top 3: 5-5, 5-0, 5-4"). */
  heads: string;
  question: string;
  answer: string;
  masked: boolean;
}

export interface RegenerateView {
  question: string;
  busy: boolean;
  /** Answer with no mask, and with the current masks; null until generated. */
  plain: string | null;
  masked: string | null;
  maskedHeads: string[];
  maskMode: MaskMode;
  maskScope: MaskScope;
  error: string | null;
}

/** One success measure of an ablation: the top-k value, and the random trials with their mean and spread. */
export interface AblationMeasure {
  top: number;
  random: number[];
  mean: number;
  min: number;
  max: number;
}

export interface AblationView {
  name: string;
  modelId: string;
  baseline: number;
  /** One row per k: accuracy with the top-k heads masked, and with k random heads (one per trial, with their mean and spread). */
  rows: ({ k: number; exact: AblationMeasure | null } & AblationMeasure)[];
  /** Exact answers (the response contains the whole answer): null in files made before they were recorded. */
  baselineExact: number | null;
}

/** ROUGE-1 recall > 0.5, the paper's NIAH success; exact: the response contains the whole answer. */
export type AblationMetric = 'rouge' | 'exact';

export interface CompareView {
  a: string;
  b: string;
  pearson: number | null;
  spearman: number | null;
  /** Top-k overlap for several k: shared heads / k. */
  overlap: { k: number; shared: number; fraction: number }[];
  /** Both runs' scores for a scatter plot, one point per head present in both. */
  points: { key: string; a: number; b: number }[];
  note: string | null;
  /** Set when the two score sets come from different models, whose heads do not correspond. */
  warning: string | null;
}

export interface PanelState {
  map: ScoreMapView | null;
  selected: HeadRef | null;
  masks: HeadRef[];
  maskMode: MaskMode;
  maskScope: MaskScope;
  highlight: HighlightView | null;
  /** Current generated step in the highlight view. */
  step: number;
  regenerate: RegenerateView | null;
  ablations: AblationView[];
  compare: CompareView | null;
  /** A run in progress, shown as a bar; the extension's notification has the Cancel button. */
  busy: string | null;
  /** Quiet work the user did not start (highlights after a detection): shown, but it blocks nothing else. */
  background: string | null;
  tab: PanelTab;
}

export type ToWebview =
  | { type: 'state'; state: PanelState }
  | { type: 'exportFigure'; figure: FigureKind; format: 'svg' | 'png' }
  /** The running job's progress line ("3/15 cases · 20s left"); only the status line redraws. */
  | { type: 'progress'; text: string | null };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'selectHead'; head: HeadRef }
  | { type: 'setMask'; head: HeadRef; masked: boolean }
  | { type: 'setMaskMode'; mode: MaskMode }
  | { type: 'setMaskScope'; scope: MaskScope }
  | { type: 'setStep'; step: number }
  | { type: 'setTab'; tab: PanelTab }
  | { type: 'inspect' }
  | { type: 'regenerate'; question: string }
  | { type: 'highlightTop'; top: boolean }
  | {
      type: 'command';
      command:
        'findRetrievalHeads' | 'openScores' | 'exportScores' | 'runAblation' | 'compareRuns' | 'clearMasks' | 'maskAllRetrievalHeads';
    }
  /** A figure rendered by the webview: SVG text, or a PNG as a data: URL. */
  | { type: 'figure'; figure: FigureKind; format: 'svg' | 'png'; data: string }
  | { type: 'exportJson'; figure: 'ablation' }
  | { type: 'error'; message: string };

export function emptyState(): PanelState {
  return {
    map: null,
    selected: null,
    masks: [],
    maskMode: 'uniform',
    maskScope: 'decode',
    highlight: null,
    step: 0,
    regenerate: null,
    ablations: [],
    compare: null,
    busy: null,
    background: null,
    tab: 'map',
  };
}

export const headId = (h: HeadRef): string => `${h.layer}-${h.head}`;

function isHead(v: unknown): v is HeadRef {
  const h = v as HeadRef;
  return typeof h === 'object' && h !== null && Number.isInteger(h.layer) && Number.isInteger(h.head) && h.layer >= 0 && h.head >= 0;
}

const COMMANDS = new Set([
  'findRetrievalHeads',
  'openScores',
  'exportScores',
  'runAblation',
  'compareRuns',
  'clearMasks',
  'maskAllRetrievalHeads',
]);
const TABS = new Set(['map', 'highlights', 'ablation', 'compare']);
const FIGURES = new Set(['scoreMap', 'ablation', 'compare']);

/** The extension trusts nothing from the webview: a message of the wrong shape is dropped. */
export function parseFromWebview(m: unknown): FromWebview | null {
  if (typeof m !== 'object' || m === null) return null;
  const x = m as Record<string, unknown>;
  switch (x.type) {
    case 'ready':
    case 'inspect':
      return { type: x.type };
    case 'selectHead':
      return isHead(x.head) ? { type: 'selectHead', head: { layer: x.head.layer, head: x.head.head } } : null;
    case 'setMask':
      return isHead(x.head) && typeof x.masked === 'boolean'
        ? { type: 'setMask', head: { layer: x.head.layer, head: x.head.head }, masked: x.masked }
        : null;
    case 'setMaskMode':
      return x.mode === 'uniform' || x.mode === 'zero' ? { type: 'setMaskMode', mode: x.mode } : null;
    case 'setMaskScope':
      return x.scope === 'decode' || x.scope === 'all' ? { type: 'setMaskScope', scope: x.scope } : null;
    case 'setStep':
      return Number.isInteger(x.step) && (x.step as number) >= 0 ? { type: 'setStep', step: x.step as number } : null;
    case 'setTab':
      return typeof x.tab === 'string' && TABS.has(x.tab) ? { type: 'setTab', tab: x.tab as PanelTab } : null;
    case 'regenerate':
      return typeof x.question === 'string' ? { type: 'regenerate', question: x.question } : null;
    case 'highlightTop':
      return typeof x.top === 'boolean' ? { type: 'highlightTop', top: x.top } : null;
    case 'command':
      return typeof x.command === 'string' && COMMANDS.has(x.command) ? ({ type: 'command', command: x.command } as FromWebview) : null;
    case 'figure':
      return typeof x.figure === 'string' &&
        FIGURES.has(x.figure) &&
        (x.format === 'svg' || x.format === 'png') &&
        typeof x.data === 'string'
        ? { type: 'figure', figure: x.figure as FigureKind, format: x.format, data: x.data }
        : null;
    case 'exportJson':
      return x.figure === 'ablation' ? { type: 'exportJson', figure: 'ablation' } : null;
    case 'error':
      return typeof x.message === 'string' ? { type: 'error', message: x.message } : null;
    default:
      return null;
  }
}
