// The paper's per-step retrieval score. At each decoding step, for every layer and query head:
// if the top-1 position j of the current query's attention lies in the answer span and the prompt
// token at j equals the token generated at this step, the head gets 1/|span|. Credit is per step,
// so one case can give a head more than 1.

export class CaseScorer {
  /** [layers * heads] running scores of this case. */
  readonly scores: Float64Array;

  constructor(
    readonly layers: number,
    readonly heads: number,
    readonly promptIds: ArrayLike<number>,
    readonly span: [number, number],
  ) {
    this.scores = new Float64Array(layers * heads);
  }

  /** rows: [layers, heads, kvLen] attention of the current query; token: generated at this step. */
  step(rows: Float32Array, kvLen: number, token: number): void {
    const [start, end] = this.span;
    const credit = 1 / (end - start);
    for (let lh = 0; lh < this.layers * this.heads; lh++) {
      const base = lh * kvLen;
      let best = 0;
      for (let j = 1; j < kvLen; j++) if (rows[base + j] > rows[base + best]) best = j;
      if (best >= start && best < end && this.promptIds[best] === token) this.scores[lh] += credit;
    }
  }

  /** [layers][heads] */
  toMatrix(): number[][] {
    return Array.from({ length: this.layers }, (_, l) => Array.from(this.scores.subarray(l * this.heads, (l + 1) * this.heads)));
  }
}
