// View logic for the comparison (agreement), KV what-if and attribution views, with no vscode in
// it. Unit-tested in test/unit/workviews.test.ts.
import type { ScoresFile } from '../../method/types.js';
import type { AttributionResult, KvWhatifResult } from '../../worker/protocol.js';
import type { AttributionView, CompareView, KvWhatifView } from '../../shared/webviewProtocol.js';
import { alignedMatrices, compareScores, COMPARE_KS, DISAGREE_K, scoresOrigin } from '../methodApi.js';
import { compareWarning } from './viewState.js';

export interface Named {
  name: string;
  scores: ScoresFile;
}

/**
 * Two score sets' agreement at one level: correlations, top-k overlap, the scatter's points and the
 * heads only one of them ranks high. At level kv each query-head file is reduced per KV group by
 * `aggregation` (files of KV-head scores, like DuoAttention's, are taken as they are).
 */
export function toCompareView(a: Named, b: Named, level: 'query' | 'kv' = 'query', aggregation: 'max' | 'mean' = 'max'): CompareView {
  const lv = { level, aggregation: level === 'kv' ? aggregation : undefined };
  const [ma, mb] = alignedMatrices(a.scores, b.scores, lv);
  const n = ma.flat().length;
  // k = 5/10/20 (and more where the model has the heads); a k as large as the model says nothing.
  const ks = COMPARE_KS.filter((k) => k < n);
  const kk = ks.length ? ks : [Math.max(1, n - 1)];
  // Disagreement at the method's k (10), or at the largest k compared where the model has fewer heads.
  const r = compareScores(a.scores, b.scores, { ...lv, ks: kk, disagreeK: Math.min(DISAGREE_K, kk[kk.length - 1]) });
  const points = ma.flatMap((row, l) => row.map((v, h) => ({ key: `${l}-${h}`, a: v, b: mb[l][h] })));
  const shape = (s: ScoresFile) => `${s.model.layers}×${s.model.heads}`;
  // A KV-head file (DuoAttention's) has one column per KV head: at level kv that is no mismatch.
  const kvFile = a.scores.settings.level === 'kv' || b.scores.settings.level === 'kv';
  const sameShape = shape(a.scores) === shape(b.scores) || (level === 'kv' && kvFile);
  return {
    a: a.name,
    b: b.name,
    pearson: r.pearson,
    spearman: r.spearman,
    kendall: r.kendall,
    overlap: r.topK.map((t) => ({ k: t.k, shared: t.shared, fraction: t.fraction })),
    points,
    note: sameShape ? null : `different shapes (${shape(a.scores)} vs ${shape(b.scores)})`,
    warning: compareWarning(a.scores.model, b.scores.model),
    level: r.level,
    aggregation: r.aggregation ?? null,
    disagreements: r.disagreements.map((d) => ({
      head: `${d.layer}-${d.head}`,
      a: d.a,
      b: d.b,
      rankA: d.rankA,
      rankB: d.rankB,
      topOf: d.topOf,
    })),
    disagreeK: r.disagreeK,
    originA: scoresOrigin(a.scores),
    originB: scoresOrigin(b.scores),
  };
}

/** A level the two sets cannot be compared at (a KV-head file at query level) falls back to kv. */
export function compareLevelFor(a: ScoresFile, b: ScoresFile, wanted: 'query' | 'kv'): 'query' | 'kv' {
  return wanted === 'query' && (a.settings.level === 'kv' || b.settings.level === 'kv') ? 'kv' : wanted;
}

export function toKvWhatifView(r: KvWhatifResult, name: string): KvWhatifView {
  return {
    name,
    modelId: r.model.id,
    window: r.settings.window,
    sink: r.settings.sink,
    cases: r.settings.cases,
    randomTrials: r.settings.randomTrials,
    baseline: { accuracy: r.baseline.accuracy, exact: r.baseline.exact },
    windowOnly: { ...r.windowOnly },
    points: r.points.map((p) => ({
      keep: p.keep,
      k: p.k,
      kvFraction: p.kvFraction,
      accuracy: p.accuracy,
      exact: p.exact,
      keptKvHeads: p.keptKvHeads.length,
    })),
  };
}

type Span = { start: number; end: number; weight: number };

/** Longest source text shown in the panel (the editor shows all of it). */
const SNIPPET = 160;

/**
 * An attribution as the panel shows it, and its sources as document offsets. The method's offsets
 * count UTF-16 units of `raw` (the exact text it was given, CRLF kept), which starts at document
 * offset `base` on 0-based line `baseLine`.
 */
export function toAttribution(
  r: AttributionResult,
  question: string,
  document: string,
  raw: string,
  base: number,
  baseLine: number,
): { view: AttributionView; tokenSources: Span[][]; all: Span[] } {
  const shift = (s: Span): Span => ({ start: base + s.start, end: base + s.end, weight: s.weight });
  const snippet = (s: Span) => {
    const before = raw.slice(0, s.start);
    const text = raw.slice(s.start, s.end).replace(/\s+/g, ' ').trim();
    return {
      line: baseLine + (before.match(/\n/g)?.length ?? 0) + 1,
      text: text.length > SNIPPET ? `${text.slice(0, SNIPPET - 1)}…` : text,
      weight: s.weight,
    };
  };
  return {
    view: {
      question,
      answer: r.answer,
      document,
      tokens: r.tokens.map((t) => ({ text: t.text, contextShare: t.contextShare, sources: t.sources.map(snippet) })),
      sources: r.sources.map(snippet),
      grounding: { ...r.grounding },
      heads: r.heads.map((h) => `${h.layer}-${h.head}`),
      selected: null,
      contextChars: r.contextChars,
      documentChars: r.documentChars,
    },
    tokenSources: r.tokens.map((t) => t.sources.map(shift)),
    all: r.sources.map(shift),
  };
}
