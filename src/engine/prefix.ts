// Reuse of a shared prompt prefix's KV cache across generations. Needle cases built from one
// haystack share their text up to the needle (positions 0..at-1 hold the same tokens whatever the
// length, depth or needle), so the KV cache of the longest prompt seen serves every later prompt's
// common prefix: each case then prefills only from its needle on.
import type { Runner, Sequence } from './runner.js';

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class PrefixCache {
  private base: { ids: number[]; seq: Sequence } | null = null;
  /** Positions served from the cache and positions prefilled, for reports. */
  reused = 0;
  computed = 0;

  constructor(private readonly runner: Runner) {}

  /** A sequence holding the cached KV of the longest common prefix of `ids` (possibly empty). */
  start(ids: number[]): Sequence {
    if (!this.base) return this.runner.newSequence();
    const n = commonPrefix(this.base.ids, ids);
    return n > 0 ? this.base.seq.fork(n, ids.length - n) : this.runner.newSequence();
  }

  /**
   * After `seq` was prefilled with `ids`: keep a copy when it is strictly longer than what the cache
   * holds. The longest prompt covers the most prefixes (a grid runs its longest, deepest-needle case
   * first); an equally long prompt with its needle near the start must not displace it.
   */
  offer(ids: number[], seq: Sequence): void {
    if (this.base && ids.length <= this.base.ids.length) return;
    // A copy, since decoding goes on in `seq`.
    this.base = { ids: [...ids], seq: seq.fork(seq.length) };
  }

  clear(): void {
    this.base = null;
  }
}
