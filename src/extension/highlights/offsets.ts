// Token offsets -> document offsets, for needle highlights on the user's own text. Pure (no
// vscode) so it is unit-tested. Three steps: a token's span in the prompt (UTF-16 units, from the
// worker) -> the LF-normalised text the model saw (through the prompt's segments) -> the document
// (put back the CRs of CRLF line ends, add where the selection starts).
import { toLf, toRawOffset, type EolText } from '../../shared/eol.js';

export interface Segment {
  promptStart: number;
  promptEnd: number;
  textStart: number;
}

/** The text sent to the model, and how to find each of its offsets in the document again. */
export interface EolMap extends EolText {
  /** Document offset of the range's first character. */
  docStart: number;
}

/** CRLF -> LF (the model was trained on LF); remembers where the CRs were. */
export function normalizeEol(raw: string, docStart = 0): EolMap {
  return { ...toLf(raw), docStart };
}

/** Offset in the normalised text -> document offset. */
export function textToDoc(map: EolMap, offset: number): number {
  return map.docStart + toRawOffset(map, offset);
}

/** Prompt range -> ranges of the normalised text (a token can straddle the inserted needle). */
export function promptToText(segments: Segment[], start: number, end: number): [number, number][] {
  const out: [number, number][] = [];
  for (const s of segments) {
    const a = Math.max(start, s.promptStart);
    const b = Math.min(end, s.promptEnd);
    if (b > a) out.push([s.textStart + (a - s.promptStart), s.textStart + (b - s.promptStart)]);
  }
  return out;
}

/** Prompt range -> document ranges [start, end), empty when the range lies outside the user's text. */
export function promptToDoc(segments: Segment[], map: EolMap, start: number, end: number): [number, number][] {
  return promptToText(segments, start, end).map(([a, b]) => [textToDoc(map, a), textToDoc(map, b)]);
}

export interface Position {
  line: number;
  character: number;
}

/** Document offset -> line/character, with CRLF, LF or CR line ends (as vscode's positionAt). */
export function positionAt(doc: string, offset: number): Position {
  let line = 0;
  let lineStart = 0;
  const end = Math.max(0, Math.min(offset, doc.length));
  for (let i = 0; i < end; i++) {
    const c = doc.charCodeAt(i);
    if (c === 13 /* \r */) {
      if (doc.charCodeAt(i + 1) === 10) {
        if (i + 1 >= end) break; // between \r and \n: still on this line
        i++;
      }
      line++;
      lineStart = i + 1;
    } else if (c === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: end - lineStart };
}

export interface WeightedRange {
  start: number;
  end: number;
  weight: number;
}

/**
 * Attention at one step -> weighted document ranges, one per attended token that lies in the
 * user's text; weights are scaled so the strongest is 1.
 */
export function attentionRanges(
  tokenSpans: { start: number; end: number }[],
  segments: Segment[],
  map: EolMap,
  pos: ArrayLike<number>,
  w: ArrayLike<number>,
  minWeight = 0.02,
): WeightedRange[] {
  let top = 0;
  for (let i = 0; i < w.length; i++) top = Math.max(top, w[i]);
  if (top <= 0) return [];
  const out: WeightedRange[] = [];
  for (let i = 0; i < pos.length; i++) {
    const weight = w[i] / top;
    if (weight < minWeight) continue;
    const span = tokenSpans[pos[i]];
    if (!span) continue;
    for (const [start, end] of promptToDoc(segments, map, span.start, span.end)) out.push({ start, end, weight });
  }
  return out;
}

/** A character of a word: letters, digits, marks; an apostrophe between letters ("Zorvak's"). */
function wordChar(text: string, i: number): boolean {
  const c = text[i];
  if (c === undefined) return false;
  if (/[\p{L}\p{N}\p{M}_]/u.test(c)) return true;
  const code = c.charCodeAt(0);
  // Half of a character outside the BMP: a letter or an emoji; either way the token's neighbour.
  if (code >= 0xd800 && code <= 0xdfff) return true;
  return (c === "'" || c === '\u2019') && /\p{L}/u.test(text[i - 1] ?? '') && /\p{L}/u.test(text[i + 1] ?? '');
}

/**
 * Token ranges grown to whole words of `text`, so a highlight reads "accounted", not "accoun|ted":
 * leading and trailing spaces dropped, each end that stops inside a word moved to the word's edge,
 * and ranges that then overlap (the pieces of one word) merged at their strongest weight.
 * A range of punctuation or spaces only stays as it is.
 */
export function expandToWords(text: string, ranges: WeightedRange[]): WeightedRange[] {
  const grown = ranges.map((r) => {
    let start = r.start;
    let end = r.end;
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    if (start === end) return { ...r };
    if (wordChar(text, start)) while (start > 0 && wordChar(text, start - 1)) start--;
    if (wordChar(text, end - 1)) while (end < text.length && wordChar(text, end)) end++;
    return { start, end, weight: r.weight };
  });
  grown.sort((a, b) => a.start - b.start || a.end - b.end);
  const out: WeightedRange[] = [];
  for (const r of grown) {
    const last = out[out.length - 1];
    if (last && r.start < last.end) {
      last.end = Math.max(last.end, r.end);
      last.weight = Math.max(last.weight, r.weight);
    } else out.push({ ...r });
  }
  return out;
}
