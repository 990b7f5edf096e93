// Context attribution (CAFE, ReDeEP, ICR): for every answer token, where in the user's document the
// retrieval heads looked when they produced it. Their attention rows are mixed, weighted by head
// score, and summed over the document's sentences (or lines); an answer is grounded as far as its
// tokens' retrieval attention lies in the document rather than in the question, the prompt's own
// words or the answer so far.
//
// Offsets: a document offset counts UTF-16 code units of the file's text as read (UTF-8 decoded,
// a BOM dropped, CRLF line ends kept): what JavaScript strings and VS Code document offsets count.
// The model reads the text with CRLF turned into LF (what models are trained on); offsets are
// mapped back through the removed CRs.
import { RetrievalLensError } from '../shared/errors.js';
import type { TokenSpan } from '../shared/tokenSpans.js';

export { toLf, toRawOffset, type EolText } from '../shared/eol.js';
import { toRawOffset, type EolText } from '../shared/eol.js';

export type SourceUnit = 'sentence' | 'line';

/** A span of the original document, [start, end). */
export interface Span {
  start: number;
  end: number;
}

/**
 * The document's sentences or lines as spans of the original text, each without its surrounding
 * whitespace. A sentence ends after . ! or ? (and any closing quotes or brackets) before
 * whitespace, or at a blank line; a single line break does not end one (prose is often wrapped).
 */
export function splitUnits(raw: string, unit: SourceUnit): Span[] {
  const cuts: number[] = [0];
  if (unit === 'line') {
    for (let i = raw.indexOf('\n'); i >= 0; i = raw.indexOf('\n', i + 1)) cuts.push(i + 1);
  } else {
    const re = /[.!?]["'\u2019\u201d)\]]*(?=\s)|\r?\n[ \t]*\r?\n/g;
    for (let m = re.exec(raw); m; m = re.exec(raw)) cuts.push(m.index + m[0].length);
  }
  cuts.push(raw.length);
  const out: Span[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    let a = cuts[i];
    let b = cuts[i + 1];
    while (a < b && /\s/.test(raw[a])) a++;
    while (b > a && /\s/.test(raw[b - 1])) b--;
    if (b > a) out.push({ start: a, end: b });
  }
  return out;
}

/** prompt[promptStart, promptEnd) is text[textStart, ...) of the LF text. */
export interface ContextSegment {
  promptStart: number;
  promptEnd: number;
  textStart: number;
}

/** Fills {context} (every occurrence maps back to the text) and {question} in one pass over the template. */
export function buildContextPrompt(template: string, text: string, question: string): { prompt: string; segments: ContextSegment[] } {
  const parts = template.split(/(\{context\}|\{question\})/);
  if (!parts.includes('{context}')) throw new RetrievalLensError('BAD_INPUT', 'the prompt template has no {context}');
  let prompt = '';
  const segments: ContextSegment[] = [];
  for (const part of parts) {
    if (part === '{context}') {
      if (text.length) segments.push({ promptStart: prompt.length, promptEnd: prompt.length + text.length, textStart: 0 });
      prompt += text;
    } else prompt += part === '{question}' ? question : part;
  }
  return { prompt, segments };
}

/** What a prompt position holds: the document (with its original span), other prompt text, nothing (special tokens). */
export type PositionKind = { kind: 'context'; start: number; end: number } | { kind: 'prompt' } | { kind: 'special' };

/** Each prompt token's kind, from its span in the prompt; a token partly in the document counts as document. */
export function classifyTokens(spans: TokenSpan[], segments: ContextSegment[], eol: EolText): PositionKind[] {
  return spans.map((s) => {
    if (s.end <= s.start) return { kind: 'special' };
    for (const g of segments) {
      const a = Math.max(s.start, g.promptStart);
      const b = Math.min(s.end, g.promptEnd);
      if (b > a)
        return {
          kind: 'context',
          start: toRawOffset(eol, g.textStart + a - g.promptStart),
          end: toRawOffset(eol, g.textStart + b - g.promptStart),
        };
    }
    return { kind: 'prompt' };
  });
}

/** Rows of the given heads mixed with weights proportional to their scores: [kvLen] from [layers, heads, kvLen]. */
export function mixHeads(
  rows: Float32Array,
  kvLen: number,
  perLayer: number,
  heads: { layer: number; head: number; score: number }[],
): Float64Array {
  const mix = new Float64Array(kvLen);
  const total = heads.reduce((a, h) => a + Math.max(h.score, 0), 0);
  for (const h of heads) {
    const w = total > 0 ? Math.max(h.score, 0) / total : 1 / heads.length;
    const at = (h.layer * perLayer + h.head) * kvLen;
    for (let j = 0; j < kvLen; j++) mix[j] += w * rows[at + j];
  }
  return mix;
}

export interface Source extends Span {
  /** Share of the token's retrieval-head attention on this span (0..1). */
  weight: number;
}

export interface TokenAttribution {
  /** Best first. */
  sources: Source[];
  /** Retrieval attention on the document over that on the document, the prompt's other text and the answer so far. */
  contextShare: number;
}

/**
 * One answer token's sources: `mix` over positions (prompt tokens first, then earlier answer
 * tokens), each document token's weight spread over the units its span overlaps, by overlap.
 */
export function attributeToken(mix: ArrayLike<number>, kinds: PositionKind[], units: Span[], top: number): TokenAttribution {
  const byUnit = new Float64Array(units.length);
  let context = 0;
  let other = 0;
  for (let j = 0; j < mix.length; j++) {
    const w = mix[j];
    const k = j < kinds.length ? kinds[j] : null;
    if (!k)
      other += w; // an earlier answer token
    else if (k.kind === 'prompt') other += w;
    else if (k.kind === 'context') {
      context += w;
      // Spread over the units the token overlaps, by overlap: a token " It" goes wholly to the
      // sentence "It ...", the whitespace between sentences belonging to none.
      const first = firstUnitEndingAfter(units, k.start);
      let covered = 0;
      for (let u = first; u < units.length && units[u].start < k.end; u++) covered += overlapOf(k, units[u]);
      if (covered > 0)
        for (let u = first; u < units.length && units[u].start < k.end; u++) byUnit[u] += (w * overlapOf(k, units[u])) / covered;
    }
  }
  const ranked = Array.from(byUnit.keys())
    .filter((u) => byUnit[u] > 0)
    .sort((a, b) => byUnit[b] - byUnit[a] || a - b)
    .slice(0, top);
  return {
    sources: ranked.map((u) => ({ start: units[u].start, end: units[u].end, weight: byUnit[u] })),
    contextShare: context + other > 0 ? context / (context + other) : 0,
  };
}

function overlapOf(a: Span, b: Span): number {
  return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
}

function firstUnitEndingAfter(units: Span[], offset: number): number {
  let lo = 0;
  let hi = units.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (units[mid].end <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sources of several answer tokens together (their listed sources' weights summed, over the tokens): best first. */
export function combineSources(tokens: { sources: Source[] }[], top: number): Source[] {
  const sum = new Map<string, Source>();
  for (const t of tokens)
    for (const s of t.sources) {
      const key = `${s.start}:${s.end}`;
      const got = sum.get(key) ?? { start: s.start, end: s.end, weight: 0 };
      got.weight += s.weight / tokens.length;
      sum.set(key, got);
    }
  return [...sum.values()].sort((a, b) => b.weight - a.weight || a.start - b.start).slice(0, top);
}

export interface Grounding {
  /** Share of answer tokens whose retrieval attention lies mostly (over half) in the document. */
  score: number;
  groundedTokens: number;
  answerTokens: number;
  threshold: number;
  /** The score is below the threshold: the answer may not come from the document. */
  low: boolean;
}

export function grounding(contextShares: number[], threshold: number): Grounding {
  const grounded = contextShares.filter((s) => s > 0.5).length;
  const score = contextShares.length ? grounded / contextShares.length : 0;
  return { score, groundedTokens: grounded, answerTokens: contextShares.length, threshold, low: score < threshold };
}
