// View logic with no vscode in it: score files -> what the tree and panel show, the mask set,
// grid sizing, quick-pick parsing. Unit-tested in test/unit/viewstate.test.ts.
import type { AblationFile, ScoresFile } from '../../method/types.js';
import { headId, type AblationView, type HeadRef, type ScoreMapView } from '../../shared/webviewProtocol.js';
import { parseNumberList } from '../../shared/numbers.js';
import { DEFAULT_THRESHOLD } from '../../method/defaults.js';
import { retrievalHeads as rankedRetrievalHeads } from '../../method/aggregate.js';
import { trialStats } from '../../method/ablate.js';
import { scoresOrigin } from '../../method/analyze.js';

/**
 * A model's short name: the last folder of a path (a detection run's id is the model folder, which
 * for the bundled model is a long path inside the extension), the owner/name of a hub id, else
 * the id itself (an opened file's id is its file name).
 */
export function displayModelName(id: string): string {
  const t = id.trim().replace(/[\\/]+$/, '');
  if (t.startsWith('hf:')) return t.slice(3);
  if (/^[a-zA-Z]:[\\/]|^[\\/.~]/.test(t)) return t.split(/[\\/]/).pop() || t;
  return t;
}

export function toScoreMapView(s: ScoresFile, name: string, source: 'run' | 'file', threshold?: number): ScoreMapView {
  const { layers, heads } = s.model;
  const th = threshold ?? s.settings?.threshold ?? DEFAULT_THRESHOLD;
  const counted = s.cases.filter((c) => c.success);
  const activeCases = counted.length
    ? Array.from({ length: layers }, (_, l) =>
        Array.from({ length: heads }, (_, h) => counted.filter((c) => (c.scores[l]?.[h] ?? 0) > 0).length),
      )
    : null;
  let retrievalCount = 0;
  for (const row of s.scores) for (const v of row) if (v >= th) retrievalCount++;
  return {
    name,
    source,
    modelId: s.model.id,
    modelName: displayModelName(s.model.id),
    layers,
    heads,
    scores: s.scores,
    activeCases,
    countedCases: s.summary?.countedCases ?? counted.length,
    totalCases: s.cases.length,
    threshold: th,
    retrievalCount,
    alwaysActive: (s.summary?.alwaysActive ?? []).map(([l, h]) => `${l}-${h}`),
    accuracy: s.summary?.accuracy && s.summary.accuracy.values?.length ? s.summary.accuracy : null,
    origin: scoresOrigin(s),
  };
}

export interface HeadRow extends HeadRef {
  score: number;
  retrieval: boolean;
  activeCases: number | null;
}

export interface LayerRow {
  layer: number;
  heads: HeadRow[];
  retrievalCount: number;
  maxScore: number;
}

/** Layers in order, each with its heads sorted by score (ties by head index). */
export function layerRows(view: ScoreMapView, retrievalOnly: boolean): LayerRow[] {
  const out: LayerRow[] = [];
  for (let l = 0; l < view.layers; l++) {
    const all: HeadRow[] = [];
    for (let h = 0; h < view.heads; h++) {
      const score = view.scores[l]?.[h] ?? 0;
      all.push({ layer: l, head: h, score, retrieval: score >= view.threshold, activeCases: view.activeCases?.[l]?.[h] ?? null });
    }
    all.sort((a, b) => b.score - a.score || a.head - b.head);
    const heads = retrievalOnly ? all.filter((r) => r.retrieval) : all;
    if (retrievalOnly && heads.length === 0) continue;
    out.push({ layer: l, heads, retrievalCount: all.filter((r) => r.retrieval).length, maxScore: all[0]?.score ?? 0 });
  }
  return out;
}

/** All heads at or above the threshold, best first. */
/** The view's retrieval heads, best first (the method's ranking), as rows. */
export function retrievalHeads(view: ScoreMapView): HeadRow[] {
  return rankedRetrievalHeads(view.scores, view.threshold).map(([layer, head, score]) => ({
    layer,
    head,
    score,
    retrieval: true,
    activeCases: view.activeCases?.[layer]?.[head] ?? null,
  }));
}

export const formatScore = (s: number): string => (Number.isFinite(s) ? s.toFixed(3) : 'n/a');

export function viewDescription(view: ScoreMapView): string {
  const total = view.layers * view.heads;
  const pct = total ? ((100 * view.retrievalCount) / total).toFixed(1) : '0';
  return `${view.modelName}: ${view.retrievalCount}/${total} retrieval heads (${pct}%)`;
}

/**
 * The Head explorer's header: the model and its counts as the description, the run's document and
 * cases as the message, each name once. With no run there is no message: a tree view's message
 * hides its welcome content (the Find / Open scores file / Select model buttons).
 */
export function treeHeader(
  view: ScoreMapView | null,
  retrievalOnly: boolean,
  modelName: string,
): { description: string; message: string | undefined } {
  if (!view) return { description: modelName, message: undefined };
  // A detection run is named "<document> · <model>"; an opened file by its name, which is also its model id.
  const doc = view.name
    .split(' · ')
    .filter((p) => p !== view.modelName)
    .join(' · ');
  const parts = [doc, view.totalCases ? `${view.countedCases}/${view.totalCases} cases counted` : 'score file'];
  if (retrievalOnly) parts.push('retrieval heads only');
  return { description: viewDescription(view), message: parts.filter(Boolean).join(' · ') };
}

/** The warning a head-by-head comparison of two models needs: head 5-5 of one is not head 5-5 of the other. */
export function compareWarning(a: { id: string }, b: { id: string }): string | null {
  if (a.id === b.id) return null;
  return `different models (${displayModelName(a.id)} vs ${displayModelName(b.id)}): their heads do not correspond, so head-by-head correlation and overlap say little; compare each model's ranking on its own.`;
}

/** An ablation file as the panel plots it: both success measures, each with its random trials' spread. */
export function toAblationView(file: AblationFile, name: string): AblationView {
  const hasExact = typeof file.baselineExact === 'number' && file.results.every((r) => typeof r.topExact === 'number');
  return {
    name,
    modelId: file.model.id,
    baseline: file.baseline,
    baselineExact: hasExact ? file.baselineExact! : null,
    rows: file.results.map((r) => ({
      k: r.k,
      top: r.top,
      random: r.random,
      ...trialStats(r.random),
      exact: hasExact ? { top: r.topExact!, random: r.randomExact ?? [], ...trialStats(r.randomExact ?? []) } : null,
    })),
  };
}

/**
 * The masked heads, tied to one model and one document: when either changes the set is
 * emptied, so masks chosen for one model never apply to another.
 */
export class MaskSet {
  private heads = new Map<string, HeadRef>();
  private owner = '';

  /** Returns true when the owner changed and the set was cleared. */
  bind(modelId: string, documentUri: string): boolean {
    const owner = `${modelId}\u0000${documentUri}`;
    if (owner === this.owner) return false;
    const had = this.heads.size > 0;
    this.owner = owner;
    this.heads.clear();
    return had;
  }

  has(h: HeadRef): boolean {
    return this.heads.has(headId(h));
  }

  set(h: HeadRef, masked: boolean): void {
    if (masked) this.heads.set(headId(h), { layer: h.layer, head: h.head });
    else this.heads.delete(headId(h));
  }

  setMany(hs: HeadRef[], masked: boolean): void {
    for (const h of hs) this.set(h, masked);
  }

  clear(): void {
    this.heads.clear();
  }

  get size(): number {
    return this.heads.size;
  }

  /** Sorted by layer, then head. */
  list(): HeadRef[] {
    return [...this.heads.values()].sort((a, b) => a.layer - b.layer || a.head - b.head);
  }

  /** Drops heads the model does not have (after a model with fewer layers or heads loads). */
  retain(layers: number, heads: number): void {
    for (const [k, h] of this.heads) if (h.layer >= layers || h.head >= heads) this.heads.delete(k);
  }
}

export function maskStatusText(n: number): string {
  return n === 1 ? '1 head masked' : `${n} heads masked`;
}

export interface GridPlan {
  lengths: number[];
  depths: number[];
  /** Why lengths were dropped or changed, for the user. */
  notes: string[];
  /** About how many of the text's tokens the longest context reads (the grid never needs more). */
  usedTokens: number;
}

/**
 * The detection grid for a text of `textTokens` tokens: the configured lengths that the model's
 * context allows and that the text can fill; when the text is shorter than every length, one
 * length that the text fills.
 */
export function planGrid(
  textTokens: number,
  contextLength: number,
  lengths: number[],
  depths: number[],
  maxNewTokens: number,
  overhead = 64,
): GridPlan {
  const notes: string[] = [];
  const cap = contextLength - maxNewTokens - 1;
  let ls = [...new Set(lengths.filter((l) => Number.isInteger(l) && l > 0))].sort((a, b) => a - b);
  const tooLong = ls.filter((l) => l > cap);
  if (tooLong.length) notes.push(`lengths ${tooLong.join(', ')} exceed the model context (${contextLength}) and were skipped`);
  ls = ls.filter((l) => l <= cap);
  const fillable = textTokens + overhead;
  const unfilled = ls.filter((l) => l > fillable);
  if (unfilled.length) {
    ls = ls.filter((l) => l <= fillable);
    if (ls.length === 0) ls = [Math.min(cap, fillable)];
    notes.push(`the text has ${textTokens} tokens, so the grid uses lengths ${ls.join(', ')}`);
  }
  const ds = [...new Set(depths.filter((d) => Number.isFinite(d) && d >= 0 && d <= 100))].sort((a, b) => a - b);
  const longest = ls.length ? ls[ls.length - 1] : 0;
  const usedTokens = Math.max(0, Math.min(textTokens, longest - overhead));
  if (ls.length && usedTokens < textTokens)
    notes.push(`the text has ${textTokens} tokens; the longest context (${longest}) reads about the first ${usedTokens}`);
  return { lengths: ls, depths: ds.length ? ds : [0, 50, 100], notes, usedTokens };
}

/** "1, 2, 4 8" -> [1, 2, 4, 8] (the k values of an ablation); null when it is not a list of positive integers. */
export function parseIntList(text: string): number[] | null {
  try {
    return parseNumberList(text, 'k', { int: true, min: 1 }).sort((x, y) => x - y);
  } catch {
    return null;
  }
}

/** Per step, the mean attention of `heads` over prompt positions (sparse: the positions any head reported). */
export function combineAttention(
  steps: { top: { pos: ArrayLike<number>; w: ArrayLike<number> }[] }[],
  headsPerLayer: number,
  heads: HeadRef[],
): { pos: number[]; w: number[] }[] {
  return steps.map((s) => {
    const acc = new Map<number, number>();
    for (const h of heads) {
      const t = s.top[h.layer * headsPerLayer + h.head];
      if (!t) continue;
      for (let i = 0; i < t.pos.length; i++) acc.set(t.pos[i], (acc.get(t.pos[i]) ?? 0) + t.w[i] / heads.length);
    }
    const entries = [...acc.entries()].sort((a, b) => b[1] - a[1]);
    return { pos: entries.map((e) => e[0]), w: entries.map((e) => e[1]) };
  });
}
