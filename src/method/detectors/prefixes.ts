// Shared prompt prefixes for detectors that drive a Decoder. Needle prompts built from one haystack
// share their tokens up to the first needle; taken in lexicographic order, the prompts form a
// depth-first walk of their prefix tree, and a stack of decoders checkpointed at the tree's
// branch points lets each prefix be prefilled once (each prompt then prefills only from where it
// leaves the previous ones).
import { throwIfAborted } from '../../shared/errors.js';
import type { Decoder, LoadedModel } from '../../engine/index.js';

export function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Indices of `lists` in lexicographic order of their tokens (a prefix before its extensions). */
export function lexicographicOrder(lists: ArrayLike<number>[]): number[] {
  return lists
    .map((_, i) => i)
    .sort((i, j) => {
      const a = lists[i];
      const b = lists[j];
      const k = commonPrefix(a, b);
      if (k < a.length && k < b.length) return a[k] - b[k];
      return a.length - b.length || i - j;
    });
}

export class SharedPrefixes {
  /** Decoders holding the first `len` tokens of the previous prompt, shortest first. */
  private readonly stack: { dec: Decoder; len: number }[];
  private prev: ArrayLike<number> | null = null;
  /** Positions prefilled, for reports and tests. */
  prefilled = 0;

  constructor(model: LoadedModel) {
    this.stack = [{ dec: model.decoder(), len: 0 }];
  }

  /**
   * A new decoder holding the first `at` tokens of `ids`, at the deepest checkpoint this prompt
   * shares; the caller prefills the rest. `keep`: the positions the next prompt shares with this
   * one, where a checkpoint is made for it. Prompts must come in lexicographic order.
   */
  async take(ids: number[], keep: number, signal?: AbortSignal): Promise<{ dec: Decoder; at: number }> {
    throwIfAborted(signal);
    if (this.prev) {
      const shared = commonPrefix(this.prev, ids);
      while (this.stack.length > 1 && this.stack[this.stack.length - 1].len > shared) this.stack.pop();
    }
    this.prev = ids;
    let top = this.stack[this.stack.length - 1];
    if (keep > top.len) {
      const dec = top.dec.fork();
      await dec.prefill(ids.slice(top.len, keep), signal);
      this.prefilled += keep - top.len;
      top = { dec, len: keep };
      this.stack.push(top);
    }
    return { dec: top.dec.fork(), at: top.len };
  }
}
