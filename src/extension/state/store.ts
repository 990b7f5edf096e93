// Everything the extension shows, in one place: the current score map, selection, masks,
// highlights, re-generation, ablations, comparison. Features change it only through its methods;
// views (tree, panel, status bar, decorations) subscribe to its typed events and re-render from it.
// No vscode import, so it is testable.
import type { AblationFile, ScoresFile } from '../../method/types.js';
import type { InspectResponse } from '../../worker/protocol.js';
import {
  emptyState,
  headId,
  type AttributionView,
  type KvWhatifView,
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
} from '../../shared/webviewProtocol.js';
import { combineAttention, MaskSet, retrievalHeads, toScoreMapView } from './viewState.js';
import type { Ablation, Attribution, CompareSource, DocContext, InspectState, Run } from './storeTypes.js';
export type { Ablation, Attribution, CompareSource, DocContext, InspectState, Run } from './storeTypes.js';

/** What changed. Each view listens for the events that concern it. */
export type StoreEvent =
  | 'run'
  | 'selection'
  | 'masks'
  | 'filter'
  | 'highlight'
  | 'regenerate'
  | 'ablation'
  | 'compare'
  | 'busy'
  | 'tab'
  | 'kvwhatif'
  | 'attribution';

/** Who made a change, where a view must not echo it back (the tree revealing its own click). */
export type ChangeOrigin = 'tree' | 'panel' | undefined;

type Listener = (events: ReadonlySet<StoreEvent>, origin: ChangeOrigin) => void;

export class Store {
  private _runs: Run[] = [];
  private _current: Run | null = null;
  private _selected: HeadRef | null = null;
  readonly masks = new MaskSet();
  private _maskMode: MaskMode = 'uniform';
  private _maskScope: MaskScope = 'decode';
  private _inspect: InspectState | null = null;
  private _highlightTop = false;
  private _step = 0;
  private _regenerate: RegenerateView | null = null;
  private _ablations: Ablation[] = [];
  private _compare: CompareView | null = null;
  private _compareSources: CompareSource[] = [];
  private _kvWhatif: { view: KvWhatifView; file: unknown } | null = null;
  private _attribution: Attribution | null = null;
  private _decore = false;
  private _busy: string | null = null;
  private _background: string | null = null;
  private _tab: PanelTab = 'map';
  private _retrievalOnly = false;
  private listeners: Listener[] = [];

  get runs(): readonly Run[] {
    return this._runs;
  }
  get current(): Run | null {
    return this._current;
  }
  get selected(): HeadRef | null {
    return this._selected;
  }
  get maskMode(): MaskMode {
    return this._maskMode;
  }
  get maskScope(): MaskScope {
    return this._maskScope;
  }
  get inspect(): InspectState | null {
    return this._inspect;
  }
  get highlightTop(): boolean {
    return this._highlightTop;
  }
  get step(): number {
    return this._step;
  }
  get regenerate(): RegenerateView | null {
    return this._regenerate;
  }
  get ablations(): readonly Ablation[] {
    return this._ablations;
  }
  get compare(): CompareView | null {
    return this._compare;
  }
  get compareSources(): readonly CompareSource[] {
    return this._compareSources;
  }
  get kvWhatif(): { view: KvWhatifView; file: unknown } | null {
    return this._kvWhatif;
  }
  get attribution(): Attribution | null {
    return this._attribution;
  }
  get decore(): boolean {
    return this._decore;
  }
  get busy(): string | null {
    return this._busy;
  }
  get background(): string | null {
    return this._background;
  }
  get tab(): PanelTab {
    return this._tab;
  }
  get retrievalOnly(): boolean {
    return this._retrievalOnly;
  }

  onChange(l: Listener): { dispose(): void } {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  }

  private emit(events: StoreEvent[], origin?: ChangeOrigin): void {
    const s = new Set(events);
    for (const l of this.listeners) l(s, origin);
  }

  /** Shows a run. A different model or document than before clears masks and highlights. */
  setRun(
    scores: ScoresFile,
    name: string,
    source: 'run' | 'file',
    doc: DocContext | null,
    modelSpec: string | null,
    threshold?: number,
    partial?: Run['partial'],
  ): Run {
    // A running detection's map is replaced by its next update and by its final result.
    const replacing = Boolean(this._current?.partial);
    if (replacing) this._runs = this._runs.filter((r) => r !== this._current);
    let view = toScoreMapView(scores, uniqueName(name, this._runs), source, threshold);
    if (partial) view = { ...view, name: `${view.name} · running, ${partial.done}/${partial.total} cases` };
    const run: Run = { name: uniqueName(name, this._runs), scores, view, source, doc, modelSpec, partial };
    this._runs.push(run);
    const prev = this._current;
    this._current = run;
    const cleared = this.masks.bind(view.modelId, doc?.uri ?? '');
    if (cleared || !prev || prev.view.modelId !== view.modelId || (prev.doc?.uri ?? '') !== (doc?.uri ?? '')) {
      this.dropHighlights();
      this._regenerate = null;
    }
    this.masks.retain(view.layers, view.heads);
    if (this._selected && (this._selected.layer >= view.layers || this._selected.head >= view.heads)) this._selected = null;
    if (!replacing) this._tab = 'map';
    this.emit(['run', 'masks', 'highlight', 'tab']);
    return run;
  }

  /** A detection stopped early (cancelled or failed): its partial map stays, as what it is. */
  settlePartial(): void {
    const run = this._current;
    if (!run?.partial) return;
    const { done, total } = run.partial;
    run.partial = undefined;
    run.view = { ...run.view, name: `${run.name} (stopped after ${done} of ${total} cases)` };
    this.emit(['run']);
  }

  /** A different model is selected: highlights, masks and answers that belong to the old one go. */
  modelChanged(modelSpec: string): void {
    if (this._inspect && this._inspect.modelSpec !== modelSpec) this.dropHighlights();
    if (this._current?.modelSpec && this._current.modelSpec !== modelSpec) {
      this.masks.clear();
      this._regenerate = null;
    }
    this.emit(['masks', 'highlight', 'regenerate']);
  }

  private dropHighlights(): void {
    this._inspect = null;
    this._step = 0;
  }

  clearHighlights(): void {
    this.dropHighlights();
    this.emit(['highlight']);
  }

  select(h: HeadRef | null, origin?: ChangeOrigin): void {
    this._selected = h;
    this._highlightTop = false;
    this.emit(['selection', 'highlight'], origin);
  }

  setMask(h: HeadRef, masked: boolean, origin?: ChangeOrigin): void {
    this.masks.set(h, masked);
    this.emit(['masks'], origin);
  }

  setMasks(hs: HeadRef[], masked: boolean, origin?: ChangeOrigin): void {
    this.masks.setMany(hs, masked);
    this.emit(['masks'], origin);
  }

  clearMasks(): void {
    this.masks.clear();
    this.emit(['masks']);
  }

  setMaskMode(mode: MaskMode, scope: MaskScope = this._maskScope): void {
    this._maskMode = mode;
    this._maskScope = scope;
    this.emit(['masks']);
  }

  setMaskScope(scope: MaskScope): void {
    this.setMaskMode(this._maskMode, scope);
  }

  setStep(step: number): void {
    this._step = step;
    this.emit(['highlight']);
  }

  setHighlightTop(top: boolean): void {
    this._highlightTop = top;
    this.emit(['highlight']);
  }

  /** The result of a highlights run; the first answer also fills the re-generate section. */
  setInspect(ins: InspectState | null): void {
    this._inspect = ins;
    this._step = 0;
    this.emit(['highlight']);
  }

  setRegenerate(r: RegenerateView | null, inspect?: InspectState): void {
    this._regenerate = r;
    if (inspect) {
      this._inspect = inspect;
      this._step = 0;
    }
    this.emit(inspect ? ['regenerate', 'highlight'] : ['regenerate']);
  }

  addAblation(a: Ablation): void {
    this._ablations.push(a);
    this._tab = 'ablation';
    this.emit(['ablation', 'tab']);
  }

  setCompare(c: CompareView, sources?: CompareSource[]): void {
    this._compare = c;
    if (sources) this._compareSources = sources;
    this._tab = 'compare';
    this.emit(['compare', 'tab']);
  }

  /** A KV what-if result (the file is what Export JSON writes). */
  setKvWhatif(view: KvWhatifView, file: unknown): void {
    this._kvWhatif = { view, file };
    this._tab = 'kvwhatif';
    this.emit(['kvwhatif', 'tab']);
  }

  setAttribution(a: Attribution | null): void {
    this._attribution = a;
    if (a) this._tab = 'attribution';
    this.emit(['attribution', 'tab']);
  }

  /** Which answer token's sources the editor shows (null: the whole answer's). */
  selectAttributionToken(index: number | null): void {
    const a = this._attribution;
    if (!a) return;
    const i = index !== null && index < a.tokenSources.length ? index : null;
    this._attribution = { ...a, view: { ...a.view, selected: i } };
    this.emit(['attribution']);
  }

  setDecore(on: boolean): void {
    this._decore = on;
    this.emit(['regenerate']);
  }

  setBusy(label: string | null): void {
    this._busy = label;
    this.emit(['busy']);
  }

  /** Quiet work in progress (label), or none: shown in the panel's status line, disabling nothing. */
  setBackground(label: string | null): void {
    this._background = label;
    this.emit(['busy']);
  }

  setTab(tab: PanelTab, origin?: ChangeOrigin): void {
    this._tab = tab;
    this.emit(['tab'], origin);
  }

  setRetrievalOnly(only: boolean): void {
    this._retrievalOnly = only;
    this.emit(['filter']);
  }

  /** Heads whose attention the highlight shows: the selected head, or the top three retrieval heads. */
  highlightHeads(): HeadRef[] {
    if (this._selected && !this._highlightTop) return [this._selected];
    if (!this._current) return [];
    const top = retrievalHeads(this._current.view).slice(0, 3);
    if (top.length) return top;
    return this._selected ? [this._selected] : [];
  }

  highlightView(): HighlightView | null {
    const ins = this._inspect;
    if (!ins) return null;
    const heads = this.highlightHeads();
    const d = ins.data;
    const label =
      heads.length === 1 && !this._highlightTop ? `head ${headId(heads[0])}` : `top ${heads.length}: ${heads.map(headId).join(', ')}`;
    return {
      tokens: d.tokens.map((t) => t.text),
      needleSpan: d.needleSpan,
      // Responses from before the worker reported it have no question span.
      questionSpan: d.questionSpan ?? [0, 0],
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
      map: this._current?.view ?? null,
      selected: this._selected,
      masks: this.masks.list(),
      maskMode: this._maskMode,
      maskScope: this._maskScope,
      highlight: this.highlightView(),
      step: this._step,
      regenerate: this._regenerate ? { ...this._regenerate, maskMode: this._maskMode, maskScope: this._maskScope } : null,
      ablations: this._ablations.map((a) => a.view),
      compare: this._compare,
      kvWhatif: this._kvWhatif?.view ?? null,
      attribution: this._attribution?.view ?? null,
      decore: this._decore,
      busy: this._busy,
      background: this._background,
      tab: this._tab,
    };
  }
}

function uniqueName(name: string, runs: Run[]): string {
  if (!runs.some((r) => r.name === name)) return name;
  for (let i = 2; ; i++) if (!runs.some((r) => r.name === `${name} (${i})`)) return `${name} (${i})`;
}
