// Reuse of shared prompt prefixes' KV caches across generations. Needle cases built from one
// haystack share their text up to the needle (positions 0..at-1 hold the same tokens whatever the
// length, depth or needle), so the KV cache of the longest prompt seen serves every later prompt's
// haystack prefix: each case then prefills only from its needle on. Cases whose needle lands at the
// same token (depth 0 at every length; any two cells that round to one insertion point) share
// more: the needle and the text after it, up to the shorter context's end. A few other prompts are
// kept for those, within a byte budget, preferring the ones that hold the most positions no other
// cached prompt holds.
import { kvBytesPerPosition } from './kv.js';
import type { Runner, Sequence } from './runner.js';

/** KV bytes the cache may hold besides its longest prompt (which it always keeps). */
export const PREFIX_CACHE_BUDGET_BYTES = 512 * 1024 * 1024;

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

interface Entry {
  ids: number[];
  seq: Sequence;
  /** Positions past its longest common prefix with what was cached when it came. */
  fresh: number;
}

export class PrefixCache {
  private entries: Entry[] = [];
  /** Positions served from the cache and positions prefilled, for reports. */
  reused = 0;
  computed = 0;

  constructor(
    private readonly runner: Runner,
    private readonly budget = PREFIX_CACHE_BUDGET_BYTES,
  ) {}

  /** A sequence holding the cached KV of the longest common prefix of `ids` (possibly empty). */
  start(ids: number[]): Sequence {
    let best: Entry | null = null;
    let n = 0;
    for (const e of this.entries) {
      const k = commonPrefix(e.ids, ids);
      if (k > n) [best, n] = [e, k];
    }
    return best ? best.seq.fork(n, ids.length - n) : this.runner.newSequence();
  }

  /**
   * After `seq` was prefilled with `ids`: keep a copy when it holds positions no cached prompt
   * holds and it earns a place. The longest prompt always stays (a grid runs its longest,
   * deepest-needle case first: that one covers every haystack prefix); the others stay while they
   * fit the budget, those with the most fresh positions first, the older on a tie.
   */
  offer(ids: number[], seq: Sequence): void {
    const fresh = ids.length - Math.max(0, ...this.entries.map((e) => commonPrefix(e.ids, ids)));
    if (fresh <= 0) return;
    const candidate = { ids, seq, fresh };
    const kept = this.keep([...this.entries, candidate]);
    if (!kept.includes(candidate)) return;
    // A copy, since decoding goes on in `seq`.
    candidate.ids = [...ids];
    candidate.seq = seq.fork(seq.length);
    this.entries = kept;
  }

  /** Which of `all` stay: the longest, then by fresh positions (stable) while the budget allows. */
  private keep(all: Entry[]): Entry[] {
    const longest = all.reduce((a, b) => (b.ids.length > a.ids.length ? b : a));
    const perPosition = kvBytesPerPosition(this.runner.shape);
    let room = this.budget;
    const out = [longest];
    for (const e of all.filter((e) => e !== longest).sort((a, b) => b.fresh - a.fresh)) {
      const bytes = e.ids.length * perPosition;
      if (bytes > room) continue;
      room -= bytes;
      out.push(e);
    }
    return out;
  }

  clear(): void {
    this.entries = [];
  }
}
