// Character spans of tokens, found by decoding (never by re-tokenizing): token i ends where the
// decoded text of tokens [0, i] ends. Byte-fallback tokens that hold part of a multi-byte
// character decode to U+FFFD until the character completes; they share that character's span.

export interface TokenSpan {
  start: number;
  end: number;
}

const REPLACEMENT = '\uFFFD';

function stable(text: string): number {
  let n = text.length;
  while (n > 0 && text[n - 1] === REPLACEMENT) n--;
  return n;
}

/**
 * Spans of `ids` in `decode(ids)`. Decodes from an anchor a few tokens back rather than from 0,
 * so it is linear in the prompt length; the anchor cancels out of the difference as long as both
 * decodes start at the same token.
 */
export function tokenSpans(ids: number[], decodeIds: (ids: number[]) => string, window = 8): TokenSpan[] {
  // Some tokenizers refuse an empty id list.
  const decode = (x: number[]) => (x.length ? decodeIds(x) : '');
  const spans: TokenSpan[] = [];
  let offset = 0; // end of the last completed character, in the full decoded text
  let pendingFrom = -1; // first token of an incomplete character
  for (let i = 0; i < ids.length; i++) {
    let a = Math.max(0, i - window);
    // Never anchor on a continuation byte: it decodes to U+FFFD on its own and skews the difference.
    while (a > 0 && decode([ids[a]]).startsWith(REPLACEMENT)) a--;
    const before = stable(decode(ids.slice(a, i)));
    const raw = decode(ids.slice(a, i + 1));
    const after = stable(raw);
    const grown = Math.max(0, after - before);
    if (grown === 0) {
      // A byte that starts or continues an incomplete character leaves a trailing U+FFFD;
      // a special token leaves nothing and keeps its empty span.
      if (raw.length > after && pendingFrom < 0) pendingFrom = i;
      spans.push({ start: offset, end: offset });
      continue;
    }
    const end = offset + grown;
    if (pendingFrom >= 0) {
      // The character completed here covers the tokens that were waiting for it.
      for (let j = pendingFrom; j < i; j++) spans[j] = { start: offset, end };
      pendingFrom = -1;
    }
    spans.push({ start: offset, end });
    offset = end;
  }
  return spans;
}

/** The tokens whose spans overlap [start, end), as a token range [first, last + 1). */
export function tokensOverlapping(spans: TokenSpan[], start: number, end: number): [number, number] {
  let first = -1;
  let last = -1;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    if (s.end > start && s.start < end) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? [0, 0] : [first, last + 1];
}
