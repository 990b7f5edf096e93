// Every message between the extension and the Retrieval Lens panel (webview). Both sides import
// this file. The extension owns the state and posts all of it; the webview renders it and posts
// back what the user did. Nothing here imports vscode or the DOM.

import type { HeadRef, MaskMode, MaskScope } from './types.js';

export type { HeadRef, MaskMode, MaskScope };
export type FigureKind = 'scoreMap' | 'ablation' | 'compare' | 'kvwhatif';
export type PanelTab = 'map' | 'highlights' | 'ablation' | 'compare' | 'kvwhatif' | 'attribution';

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
  /** How the scores were made ("method qrhead") or the format they were read from. */
  origin?: string;
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
  /** DeCoRe's answer (contrasting the model with itself with `decoreHeads` masked); null when off or not generated. */
  decore?: string | null;
  decoreHeads?: string[];
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
  kendall?: number | null;
  /** Query heads, or KV heads with the aggregation over each group's query heads named. */
  level?: 'query' | 'kv';
  aggregation?: 'max' | 'mean' | null;
  /** Heads in one set's top `disagreeK` and not the other's, "layer-head" (KV head at level kv), best rank first. */
  disagreements?: { head: string; a: number; b: number; rankA: number; rankB: number; topOf: 'a' | 'b' }[];
  disagreeK?: number;
  /** What each set's scores came from (method or file format). */
  originA?: string;
  originB?: string;
}

/** A KV-cache what-if: accuracy against the KV memory kept, retrieval heads kept whole vs random ones. */
export interface KvWhatifView {
  name: string;
  modelId: string;
  window: number;
  sink: number;
  cases: number;
  randomTrials: number;
  baseline: { accuracy: number; exact: number };
  windowOnly: { kvFraction: number; accuracy: number; exact: number };
  points: { keep: 'retrieval' | 'random'; k: number; kvFraction: number; accuracy: number; exact: number; keptKvHeads: number }[];
}

export interface AttributionSource {
  line: number;
  text: string;
  weight: number;
}

/** "Where did this answer come from?": the answer's tokens, each with its sources in the editor. */
export interface AttributionView {
  question: string;
  answer: string;
  document: string;
  /** Per answer token: its top sources (best first) as 1-based editor lines and their text. */
  tokens: { text: string; contextShare: number; sources: AttributionSource[] }[];
  /** The whole answer's sources. */
  sources: AttributionSource[];
  grounding: { score: number; low: boolean; threshold: number; groundedTokens: number; answerTokens: number };
  heads: string[];
  /** The token whose sources the editor shows; null: the whole answer's. */
  selected: number | null;
  /** Characters of the document the model read (less than the document when it had to be cut). */
  contextChars: number;
  documentChars: number;
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
  kvWhatif: KvWhatifView | null;
  attribution: AttributionView | null;
  /** Whether "Mask and re-generate" also decodes with DeCoRe. */
  decore: boolean;
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
  | { type: 'setCompareLevel'; level: 'query' | 'kv'; aggregation: 'max' | 'mean' }
  | { type: 'setDecore'; on: boolean }
  | { type: 'selectAttributionToken'; index: number | null }
  | { type: 'command'; command: PanelCommand }
  /** A figure rendered by the webview: SVG text, or a PNG as a data: URL. */
  | { type: 'figure'; figure: FigureKind; format: 'svg' | 'png'; data: string }
  | { type: 'exportJson'; figure: 'ablation' | 'kvwhatif' }
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
    kvWhatif: null,
    attribution: null,
    decore: false,
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

const PANEL_COMMANDS = [
  'findRetrievalHeads',
  'findRetrievalHeadsWithMethod',
  'openScores',
  'exportScores',
  'runAblation',
  'compareRuns',
  'clearMasks',
  'maskAllRetrievalHeads',
  'kvWhatif',
  'attributeAnswer',
] as const;
export type PanelCommand = (typeof PANEL_COMMANDS)[number];
const COMMANDS: ReadonlySet<string> = new Set(PANEL_COMMANDS);
const TABS = new Set(['map', 'highlights', 'ablation', 'compare', 'kvwhatif', 'attribution']);
const FIGURES = new Set(['scoreMap', 'ablation', 'compare', 'kvwhatif']);

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
    case 'setCompareLevel':
      return (x.level === 'query' || x.level === 'kv') && (x.aggregation === 'max' || x.aggregation === 'mean')
        ? { type: 'setCompareLevel', level: x.level, aggregation: x.aggregation }
        : null;
    case 'setDecore':
      return typeof x.on === 'boolean' ? { type: 'setDecore', on: x.on } : null;
    case 'selectAttributionToken':
      return x.index === null || (Number.isInteger(x.index) && (x.index as number) >= 0)
        ? { type: 'selectAttributionToken', index: x.index as number | null }
        : null;
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
      return x.figure === 'ablation' || x.figure === 'kvwhatif' ? { type: 'exportJson', figure: x.figure } : null;
    case 'error':
      return typeof x.message === 'string' ? { type: 'error', message: x.message } : null;
    default:
      return null;
  }
}
