// Echo and induction heads (RazorAttention, Tang et al., ICLR 2025) from a repeated random-token
// sequence: at a token that occurred before, an echo head attends to that earlier occurrence, an
// induction head to the token that followed it (the one about to be repeated). A head's score is
// the attention mass on those positions, averaged over the scored queries (every position from
// the block's second copy on) and over the sequences.
import { RetrievalLensError } from '../../shared/errors.js';
import { rng } from '../../shared/random.js';

export type PatternKind = 'echo' | 'induction';

export interface RepeatedSequence {
  /** prefix, then the block `repeats` times. */
  ids: number[];
  /** First scored position: the start of the block's second copy. */
  scoredFrom: number;
}

/**
 * `blockLength` distinct tokens drawn with the seeded PRNG from [0, vocabSize) less `avoid` (the
 * special tokens), repeated `repeats` times after `prefix`.
 */
export function repeatedRandomSequence(opts: {
  blockLength: number;
  repeats: number;
  seed: number;
  vocabSize: number;
  avoid: number[];
  prefix: number[];
}): RepeatedSequence {
  const { blockLength, repeats, seed, vocabSize, prefix } = opts;
  if (!(Number.isInteger(blockLength) && blockLength >= 2))
    throw new RetrievalLensError('BAD_INPUT', `the block length must be an integer >= 2, got ${blockLength}`);
  if (!(Number.isInteger(repeats) && repeats >= 2))
    throw new RetrievalLensError('BAD_INPUT', `the block must repeat at least twice, got ${repeats}`);
  const avoid = new Set(opts.avoid);
  const pool: number[] = [];
  for (let t = 0; t < vocabSize; t++) if (!avoid.has(t)) pool.push(t);
  if (pool.length < blockLength)
    throw new RetrievalLensError(
      'BAD_INPUT',
      `a block of ${blockLength} distinct tokens needs a vocabulary of that many ordinary tokens; this one has ${pool.length}`,
    );
  // Partial Fisher-Yates: the first blockLength entries become a uniform draw without replacement.
  const rand = rng(seed);
  for (let i = 0; i < blockLength; i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const block = pool.slice(0, blockLength);
  const ids = [...prefix];
  for (let r = 0; r < repeats; r++) ids.push(...block);
  return { ids, scoredFrom: prefix.length + blockLength };
}

/**
 * Positions the query at `position` should attend to: echo, every earlier j with ids[j] equal to
 * ids[position]; induction, j + 1 for those j, when that is still before the query.
 */
export function patternTargets(ids: ArrayLike<number>, position: number, kind: PatternKind): number[] {
  const out: number[] = [];
  for (let j = 0; j < position; j++) {
    if (ids[j] !== ids[position]) continue;
    if (kind === 'echo') out.push(j);
    else if (j + 1 < position) out.push(j + 1);
  }
  return out;
}

/** One sequence's echo or induction score: feed it the attention rows of its scored positions. */
export class PatternScorer {
  private readonly sums: Float64Array;
  private rowsSeen = 0;

  constructor(
    readonly layers: number,
    readonly heads: number,
    readonly kind: PatternKind,
    readonly ids: ArrayLike<number>,
  ) {
    this.sums = new Float64Array(layers * heads);
  }

  /** rows: [layers, heads, kvLen] attention of the query at `position` (kvLen = position + 1). */
  step(position: number, rows: ArrayLike<number>, kvLen: number): void {
    if (kvLen !== position + 1) throw new RangeError(`the row of position ${position} has ${kvLen} positions, not ${position + 1}`);
    const targets = patternTargets(this.ids, position, this.kind);
    for (let lh = 0; lh < this.layers * this.heads; lh++) {
      let mass = 0;
      for (const j of targets) mass += rows[lh * kvLen + j];
      this.sums[lh] += mass;
    }
    this.rowsSeen++;
  }

  get steps(): number {
    return this.rowsSeen;
  }

  /** [layers][heads]: the mean mass per scored query (0 before any row). */
  toMatrix(): number[][] {
    return Array.from({ length: this.layers }, (_, l) =>
      Array.from(this.sums.subarray(l * this.heads, (l + 1) * this.heads), (v) => (this.rowsSeen ? v / this.rowsSeen : 0)),
    );
  }
}
