// Reuse of shared prompt prefixes' KV caches across generations. Needle cases built from one
// haystack share their text up to the needle (positions 0..at-1 hold the same tokens whatever the
// length, depth or needle), so the KV cache of the longest prompt seen serves every later prompt's
// haystack prefix: each case then prefills only from its needle on. Cases whose needle lands at the
// same token (depth 0 at every length; any two cells that round to one insertion point) share
// more: the needle and the text after it, up to the shorter context's end. A few other prompts are
// kept for those, within a byte budget. When the caller says which prompts are coming (a grid knows
// its cases), the cache keeps the prompts that will save those the most positions, cut to the
// positions they will serve; otherwise it keeps those holding the most positions no other holds.
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

/**
 * Which cached prompts to keep for the prompts to come, and how many positions of each: greedily,
 * the one saving the most prefill per kept position, until nothing saves more or the room (in
 * positions) is spent. `held[0]` is kept whole and free (the longest prompt). A prompt with a
 * `sizes` entry keeps that many positions (it is stored already: cutting it would copy it); one
 * with null is cut to the longest prefix it shares with a coming prompt.
 */
export function plannedKeep(held: number[][], sizes: (number | null)[], upcoming: number[][], room: number): Map<number, number> {
  // [held, upcoming]: shared positions
  const shared = held.map((h) => upcoming.map((u) => commonPrefix(h, u)));
  const best = shared[0].slice(); // [upcoming]: positions the kept prompts serve
  const kept = new Map<number, number>([[0, held[0].length]]);
  for (;;) {
    let pick = -1;
    let pickRate = 0;
    let pickSize = 0;
    for (let i = 1; i < held.length; i++) {
      if (kept.has(i)) continue;
      let gain = 0;
      let need = 0;
      shared[i].forEach((k, u) => {
        if (k > best[u]) {
          gain += k - best[u];
          need = Math.max(need, k);
        }
      });
      const size = sizes[i] ?? need;
      if (gain === 0 || size > room) continue;
      if (gain / size > pickRate) [pick, pickRate, pickSize] = [i, gain / size, size];
    }
    if (pick < 0) return kept;
    kept.set(pick, pickSize);
    room -= pickSize;
    shared[pick].forEach((k, u) => (best[u] = Math.max(best[u], k)));
  }
}

export class PrefixCache {
  private entries: Entry[] = [];
  /** Prompts (without their last token, as prefilled) said to be coming; null: not said. */
  private upcoming: number[][] | null = null;
  /** Positions served from the cache and positions prefilled, for reports. */
  reused = 0;
  computed = 0;

  constructor(
    private readonly runner: Runner,
    private readonly budget = PREFIX_CACHE_BUDGET_BYTES,
  ) {}

  /**
   * The prompts generation will be given next (whole prompts, as passed to generate). The cache
   * then keeps what serves them and lets go of what serves none of them.
   */
  expect(prompts: number[][]): void {
    this.upcoming = prompts.map((p) => p.slice(0, -1));
  }

  /** A sequence holding the cached KV of the longest common prefix of `ids` (possibly empty). */
  start(ids: number[]): Sequence {
    if (this.upcoming) {
      const i = this.upcoming.findIndex((u) => u.length === ids.length && commonPrefix(u, ids) === ids.length);
      if (i >= 0) this.upcoming.splice(i, 1);
    }
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
   * fit the budget, chosen for the prompts said to be coming, else by fresh positions.
   */
  offer(ids: number[], seq: Sequence): void {
    const fresh = ids.length - Math.max(0, ...this.entries.map((e) => commonPrefix(e.ids, ids)));
    if (fresh <= 0) return;
    const candidate = { ids, seq, fresh };
    const kept = this.upcoming ? this.keepPlanned([...this.entries, candidate]) : this.keep([...this.entries, candidate]);
    const mine = kept.find((k) => k.entry === candidate);
    if (mine) {
      // A copy, since decoding goes on in `seq`.
      candidate.ids = ids.slice(0, mine.positions);
      candidate.seq = seq.fork(mine.positions);
    }
    this.entries = kept.map((k) => k.entry);
  }

  /** Without a plan: the longest, then by fresh positions (stable) while the budget allows. */
  private keep(all: Entry[]): { entry: Entry; positions: number }[] {
    const longest = all.reduce((a, b) => (b.ids.length > a.ids.length ? b : a));
    const perPosition = kvBytesPerPosition(this.runner.shape);
    let room = this.budget;
    const out = [{ entry: longest, positions: longest.ids.length }];
    for (const e of all.filter((e) => e !== longest).sort((a, b) => b.fresh - a.fresh)) {
      const bytes = e.ids.length * perPosition;
      if (bytes > room) continue;
      room -= bytes;
      out.push({ entry: e, positions: e.ids.length });
    }
    return out;
  }

  /** With a plan: the longest, then what saves the coming prompts the most (plannedKeep). */
  private keepPlanned(all: Entry[]): { entry: Entry; positions: number }[] {
    const longest = all.reduce((a, b) => (b.ids.length > a.ids.length ? b : a));
    const held = [longest, ...all.filter((e) => e !== longest)];
    const room = Math.floor(this.budget / kvBytesPerPosition(this.runner.shape));
    const newcomer = all[all.length - 1];
    const plan = plannedKeep(
      held.map((e) => e.ids),
      held.map((e) => (e === newcomer ? null : e.ids.length)),
      this.upcoming!,
      room,
    );
    return [...plan].map(([i, positions]) => ({ entry: held[i], positions }));
  }

  clear(): void {
    this.entries = [];
    this.upcoming = null;
  }
}
