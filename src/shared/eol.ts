// CRLF line ends: models read LF (what they are trained on), while offsets given back to the user
// (VS Code document offsets, character offsets into a file) count the text as it is. One mapping
// serves needle highlights and answer attribution.

/** The text the model reads (LF line ends), and where CRs were removed from the original. */
export interface EolText {
  text: string;
  /** Positions in `text` right before which a '\r' was removed, ascending. */
  removedCr: number[];
}

/** CRLF -> LF; remembers where the CRs were. A lone '\r' stays. */
export function toLf(raw: string): EolText {
  const removedCr: number[] = [];
  let text = '';
  let last = 0;
  for (let i = raw.indexOf('\r\n'); i >= 0; i = raw.indexOf('\r\n', i + 2)) {
    text += raw.slice(last, i);
    removedCr.push(text.length);
    last = i + 1; // keep the '\n'
  }
  return { text: text + raw.slice(last), removedCr };
}

/** Offset in the LF text -> offset in the original: CRs removed before it shift it; one removed right at it stays after it. */
export function toRawOffset(eol: EolText, offset: number): number {
  let lo = 0;
  let hi = eol.removedCr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (eol.removedCr[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return offset + lo;
}
