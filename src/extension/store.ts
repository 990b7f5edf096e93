// Everything the extension shows, in one place: the current score map, selection, masks,
// highlights, re-generation, ablations, comparison. Views (tree, panel, status bar,
// decorations) subscribe and re-render from it. No vscode import, so it is testable.
import type { AblationFile, ScoresFile } from '../method/types.js';
import type { InspectResponse } from '../worker/protocol.js';
import {
  emptyState,
  headId,
  type AblationView,
  type CompareView,
  type HeadRef,
  type HighlightView,
  type MaskMode,
  type MaskScope,
  type PanelState,
  type PanelTab,
  type RegenerateView,
  type ScoreMapView,
} from '../shared/webviewProtocol.js';
import { combineAttention, MaskSet, retrievalHeads, toScoreMapView } from './viewState.js';
import type { EolMap } from './offsets.js';

/** The text a run was made on: where it lives, and what the model saw of it. */
export interface DocContext {
  uri: string;
  version: number;
  /** Document offset of the haystack's first character. */
  rangeStart: number;
  rangeEnd: number;
  eol: EolMap;
}

export interface Run {
  name: string;
  scores: ScoresFile;
  view: ScoreMapView;
  source: 'run' | 'file';
  doc: DocContext | null;
  modelSpec: string | null;
}

export interface InspectState {
  data: InspectResponse;
  doc: DocContext;
  modelSpec: string;
}

type Listener = (what: Set<string>) => void;

export class Store {
  runs: Run[] = [];
  current: Run | null = null;
  selected: HeadRef | null = null;
  readonly masks = new MaskSet();
  maskMode: MaskMode = 'uniform';
  maskScope: MaskScope = 'decode';
  inspect: InspectState | null = null;
  highlightTop = false;
  step = 0;
  regenerate: RegenerateView | null = null;
  ablations: { view: AblationView; file: AblationFile }[] = [];
  compare: CompareView | null = null;
  busy: string | null = null;
  tab: PanelTab = 'map';
  retrievalOnly = false;
  private listeners: Listener[] = [];

  onChange(l: Listener): { dispose(): void } {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  }

  emit(...what: string[]): void {
    const s = new Set(what);
    for (const l of this.listeners) l(s);
  }

  /** Shows a run. A different model or document than before clears masks and highlights. */
  setRun(
    scores: ScoresFile,
    name: string,
    source: 'run' | 'file',
    doc: DocContext | null,
    modelSpec: string | null,
    threshold?: number,
  ): Run {
    const view = toScoreMapView(scores, uniqueName(name, this.runs), source, threshold);
    const run: Run = { name: view.name, scores, view, source, doc, modelSpec };
    this.runs.push(run);
    const prev = this.current;
    this.current = run;
    const cleared = this.masks.bind(view.modelId, doc?.uri ?? '');
    if (cleared || !prev || prev.view.modelId !== view.modelId || (prev.doc?.uri ?? '') !== (doc?.uri ?? '')) {
      this.clearHighlights();
      this.regenerate = null;
    }
    this.masks.retain(view.layers, view.heads);
    if (this.selected && (this.selected.layer >= view.layers || this.selected.head >= view.heads)) this.selected = null;
    this.tab = 'map';
    this.emit('run', 'masks', 'highlight');
    return run;
  }

  /** The model or document changed under us: masks and highlights go. */
  resetFor(modelSpec: string | null, docUri: string | null): void {
    if (
      this.inspect &&
      ((modelSpec !== null && this.inspect.modelSpec !== modelSpec) || (docUri !== null && this.inspect.doc.uri !== docUri))
    )
      this.clearHighlights();
    this.emit('highlight');
  }

  clearHighlights(): void {
    this.inspect = null;
    this.step = 0;
    this.emit('highlight');
  }

  select(h: HeadRef | null): void {
    this.selected = h;
    this.highlightTop = false;
    this.emit('selection', 'highlight');
  }

  setMask(h: HeadRef, masked: boolean): void {
    this.masks.set(h, masked);
    this.emit('masks');
  }

  setMasks(hs: HeadRef[], masked: boolean): void {
    this.masks.setMany(hs, masked);
    this.emit('masks');
  }

  clearMasks(): void {
    this.masks.clear();
    this.emit('masks');
  }

  /** Heads whose attention the highlight shows: the selected head, or the top three retrieval heads. */
  highlightHeads(): HeadRef[] {
    if (this.selected && !this.highlightTop) return [this.selected];
    if (!this.current) return [];
    const top = retrievalHeads(this.current.view).slice(0, 3);
    if (top.length) return top;
    return this.selected ? [this.selected] : [];
  }

  highlightView(): HighlightView | null {
    const ins = this.inspect;
    if (!ins) return null;
    const heads = this.highlightHeads();
    const d = ins.data;
    const label =
      heads.length === 1 && !this.highlightTop ? `head ${headId(heads[0])}` : `top ${heads.length}: ${heads.map(headId).join(', ')}`;
    return {
      tokens: d.tokens.map((t) => t.text),
      needleSpan: d.needleSpan,
      steps: d.steps.map((s) => s.text),
      attention: heads.length ? combineAttention(d.steps, d.heads, heads) : d.steps.map(() => ({ pos: [], w: [] })),
      heads: heads.length ? label : 'no head selected',
      question: d.question,
      answer: d.answer,
      masked: false,
    };
  }

  panelState(): PanelState {
    return {
      ...emptyState(),
      map: this.current?.view ?? null,
      selected: this.selected,
      masks: this.masks.list(),
      maskMode: this.maskMode,
      maskScope: this.maskScope,
      highlight: this.highlightView(),
      step: this.step,
      regenerate: this.regenerate ? { ...this.regenerate, maskMode: this.maskMode, maskScope: this.maskScope } : null,
      ablations: this.ablations.map((a) => a.view),
      compare: this.compare,
      busy: this.busy,
      tab: this.tab,
    };
  }
}

function uniqueName(name: string, runs: Run[]): string {
  if (!runs.some((r) => r.name === name)) return name;
  for (let i = 2; ; i++) if (!runs.some((r) => r.name === `${name} (${i})`)) return `${name} (${i})`;
}
