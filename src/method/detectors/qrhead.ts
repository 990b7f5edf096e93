// Query-focused retrieval heads (QRHead, Zhang et al., EMNLP 2025; princeton-pli/QRHead) on needle
// cases: a head's score in a case is the attention mass the question's tokens put on the needle's
// answer span, averaged over those tokens; the file's score is the mean over cases. Nothing is
// generated, so every case counts. QRHead itself sums the mass over a query's gold documents and
// subtracts what a null query ("N/A") puts there; with one needle per prompt and no null pass,
// what is left is the plain mass on the needle (the calibration is not done here).

/**
 * Token range [start, end) of the question in a prompt: where the prompt rendered with the
 * question and the same prompt rendered with an empty question differ (their common prefix and
 * suffix excluded). Tokens merged across the question's edges fall inside the range. Null when
 * the two are equal (an empty question).
 */
export function questionSpan(withQuestion: ArrayLike<number>, withoutQuestion: ArrayLike<number>): [number, number] | null {
  const n = withQuestion.length;
  const m = withoutQuestion.length;
  let pre = 0;
  while (pre < n && pre < m && withQuestion[pre] === withoutQuestion[pre]) pre++;
  let suf = 0;
  // The suffix may not reach into the prefix of either.
  while (suf < n - pre && suf < m - pre && withQuestion[n - 1 - suf] === withoutQuestion[m - 1 - suf]) suf++;
  return n - suf > pre ? [pre, n - suf] : null;
}

/** Sum of one head's row over the positions [start, end) (clipped to the row). rows: [layers * heads, kvLen]. */
export function spanMass(rows: ArrayLike<number>, kvLen: number, lh: number, span: [number, number]): number {
  const base = lh * kvLen;
  let sum = 0;
  for (let j = Math.max(0, span[0]); j < Math.min(span[1], kvLen); j++) sum += rows[base + j];
  return sum;
}

/** One case's QRHead score: feed it the attention rows of the question's tokens, in any order. */
export class QueryFocusScorer {
  /** [layers * heads] summed mass over the rows seen. */
  private readonly sums: Float64Array;
  private rowsSeen = 0;

  constructor(
    readonly layers: number,
    readonly heads: number,
    /** [start, end) of the needle's answer span in the prompt. */
    readonly span: [number, number],
  ) {
    this.sums = new Float64Array(layers * heads);
  }

  /** rows: [layers, heads, kvLen] attention of one question token (it must see the whole span). */
  step(rows: ArrayLike<number>, kvLen: number): void {
    if (kvLen < this.span[1])
      throw new RangeError(`a question row of ${kvLen} positions does not reach past the span ending at ${this.span[1]}`);
    for (let lh = 0; lh < this.layers * this.heads; lh++) this.sums[lh] += spanMass(rows, kvLen, lh, this.span);
    this.rowsSeen++;
  }

  get steps(): number {
    return this.rowsSeen;
  }

  /** [layers][heads]: the mean mass per question token (0 before any row). */
  toMatrix(): number[][] {
    const n = this.rowsSeen || 1;
    return Array.from({ length: this.layers }, (_, l) =>
      Array.from(this.sums.subarray(l * this.heads, (l + 1) * this.heads), (v) => (this.rowsSeen ? v / n : 0)),
    );
  }
}
