// KV-cache storage for a sequence (or a batch of rows).
//   append  graphs whose GroupQueryAttention was rewritten to read the cache in place (gqaInPlace.ts):
//           one preallocated buffer [batch, kvHeads, cap, headDim] fed as the past; the graph returns
//           only the new positions, which are written after each row's length here. Nothing the
//           size of the cache crosses into or out of onnxruntime on a step.
//   shared  GroupQueryAttention graphs: past and present are ONE preallocated buffer
//           [batch, kvHeads, cap, headDim]; the op appends the new positions in place
//           (onnxruntime's past/present buffer sharing), so the cache costs its size once and a
//           decoding step copies nothing.
//   pingpong graphs that Concat(past, new) into the present: two buffers of the run's capacity swap
//           roles each step and the present is written into the idle one. onnxruntime-node copies
//           every output it allocates into a fresh JS buffer, and fresh memory costs page faults:
//           a step that hands back a large cache that way is slow.
//   fresh   onnxruntime allocates each present and hands it over (the fallback when a graph's
//           outputs do not take preallocated buffers).
// Rows of a batch are aligned on the right (left padding, for graphs fed position_ids) or on the
// left (right padding, for GroupQueryAttention, which places each row's new token after its own length).
import { ort, type Tensor } from './session.js';

export type KVMode = 'append' | 'shared' | 'pingpong' | 'fresh';

/** Modes keeping one buffer of room per row, rows starting at position 0 (right padding). */
export function inPlaceMode(mode: KVMode): boolean {
  return mode === 'append' || mode === 'shared';
}
type Buf = Float32Array | Uint16Array;

/** Bytes one position of one row takes in a cache: keys and values of every layer. */
export function kvBytesPerPosition(shape: Pick<KVShape, 'layers' | 'kvHeads' | 'headDim' | 'kvType'>): number {
  return 2 * shape.layers * shape.kvHeads * shape.headDim * (shape.kvType === 'float16' ? 2 : 4);
}

export interface KVShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  kvType: 'float32' | 'float16';
  /**
   * The model's positions, when known: growth stops there. GroupQueryAttention refuses a shared
   * buffer wider than its rotary cache ("cos_cache dimension 0 shall not be less than
   * total_sequence_length"), and a room grown by half near the limit would pass it.
   */
  maxPositions?: number;
}

/** Spare positions a widened in-place stride gets beyond what the step needs (widen). */
const WIDEN_SLACK = 64;

function alloc(shape: KVShape, n: number): Buf {
  return shape.kvType === 'float16' ? new Uint16Array(n) : new Float32Array(n);
}

export class KVCache {
  /** Positions each row holds. */
  readonly lengths: number[];
  /** Per layer key then value. */
  private bufs: Buf[];
  /** pingpong: the idle buffers the next present is written into. */
  private spare: Buf[] | null = null;
  /**
   * Positions between one row-head's slot and the next: shared and append buffers hold
   * [batch, kvHeads, cap, headDim] in their first elements; pingpong and fresh: the data's width.
   */
  private cap: number;
  /**
   * Positions per row the buffers are allocated for (reserve), so a run allocates once. In the
   * in-place modes the stride `cap` grows inside that room only as the rows do: the graph reads
   * all `cap` columns of every row (masking the unused ones), so a prompt's first chunks would
   * otherwise pay for columns its last chunks fill.
   */
  private room = 0;

  constructor(
    readonly shape: KVShape,
    readonly mode: KVMode,
    readonly batch = 1,
    initialCap = 0,
    room = 0,
  ) {
    this.lengths = new Array(batch).fill(0);
    this.cap = inPlaceMode(mode) ? Math.max(initialCap, 16) : 0;
    this.room = Math.max(this.cap, room);
    const per = batch * shape.kvHeads * (inPlaceMode(mode) ? this.room : 0) * shape.headDim;
    this.bufs = Array.from({ length: shape.layers * 2 }, () => alloc(shape, per));
  }

  /** The longest row. */
  get length(): number {
    return Math.max(0, ...this.lengths);
  }

  /** Room for `n` positions per row: in-place buffers are reallocated (copying once); pingpong buffers are sized for it. */
  reserve(n: number): void {
    if (this.mode === 'pingpong') this.room = Math.max(this.room, n);
    if (!inPlaceMode(this.mode) || n <= this.room) return;
    const grown = Math.ceil(this.room * 1.5);
    const room = Math.max(n, this.shape.maxPositions ? Math.min(grown, this.shape.maxPositions) : grown);
    const used = this.batch * this.shape.kvHeads * this.cap * this.shape.headDim;
    this.bufs = this.bufs.map((old) => {
      const dst = alloc(this.shape, this.batch * this.shape.kvHeads * room * this.shape.headDim);
      dst.set(old.subarray(0, used));
      return dst;
    });
    this.room = room;
  }

  /** In-place modes: a stride of at least `n` positions, moving the rows apart inside the room (no allocation when reserved). */
  private widen(n: number): void {
    if (n <= this.cap) return;
    this.reserve(n);
    // A little slack, so decoding steps move the rows once per WIDEN_SLACK steps rather than every
    // step; no more, since every chunk's scores are as wide as the stride. Moving costs a copy of
    // the cache, far less than a prefill chunk's products over idle columns (a 25% slack left an
    // eighth of a 4K prefill's score columns idle on average).
    const cap = Math.min(this.room, Math.max(n, this.cap + Math.min(WIDEN_SLACK, Math.ceil(this.cap / 4))));
    const { kvHeads, headDim } = this.shape;
    // Slot r moves from r * cap to r * wider: last slot first, so no slot overwrites one not yet moved.
    for (const buf of this.bufs)
      for (let r = this.batch * kvHeads - 1; r > 0; r--) {
        const from = r * this.cap * headDim;
        buf.copyWithin(r * cap * headDim, from, from + this.lengths[Math.floor(r / kvHeads)] * headDim);
      }
    this.cap = cap;
  }

  /** Append mode: a stride of `n` (>= every row's length), moving the rows together; first slot first. */
  private narrow(n: number): void {
    const { kvHeads, headDim } = this.shape;
    for (const buf of this.bufs)
      for (let r = 1; r < this.batch * kvHeads; r++) {
        const from = r * this.cap * headDim;
        buf.copyWithin(r * n * headDim, from, from + this.lengths[Math.floor(r / kvHeads)] * headDim);
      }
    this.cap = n;
  }

  /** Past inputs and preallocated present outputs (null: onnxruntime allocates) for a step adding `n` positions to every row. */
  tensors(n: number): { past: Tensor[]; present: Tensor[] | null } {
    const { kvHeads, headDim, kvType } = this.shape;
    const B = this.batch;
    if (inPlaceMode(this.mode)) {
      // The op appends into shared buffers itself, so they need the room now. An append graph
      // reads every column it is fed, masking the unused ones: room for the new positions is made
      // after the step (append), or each chunk's scores would be S columns wider than its past.
      this.widen(this.length + (this.mode === 'shared' ? n : 0));
      // An append graph sees cap + n columns. Exports that slice their causal mask from a buffer
      // of the model's positions (gpt2-style) fail past it, though the positions themselves fit.
      const max = this.shape.maxPositions;
      if (this.mode === 'append' && max && this.cap + n > max && this.length + n <= max) this.narrow(max - n);
      const dims = [B, kvHeads, this.cap, headDim];
      const t = this.bufs.map((b) => new ort.Tensor(kvType, b.subarray(0, B * kvHeads * this.cap * headDim), dims));
      if (this.mode === 'append') return { past: t, present: null };
      return { past: t, present: t.map((x) => new ort.Tensor(kvType, x.data as Buf, dims)) };
    }
    // pingpong and fresh: the data is compact, [B, kvHeads, T, headDim] with T = this.cap.
    const T = this.cap;
    const past = this.bufs.map((b) => new ort.Tensor(kvType, b.subarray(0, B * kvHeads * T * headDim), [B, kvHeads, T, headDim]));
    if (this.mode === 'fresh') return { past, present: null };
    const need = B * kvHeads * (T + n) * headDim;
    if (!this.spare || this.spare[0].length < need) {
      const size = Math.max(need, B * kvHeads * Math.max(this.room, Math.ceil((T + n) * 1.25)) * headDim);
      this.spare = this.bufs.map(() => alloc(this.shape, size));
    }
    return { past, present: this.spare.map((b) => new ort.Tensor(kvType, b.subarray(0, need), [B, kvHeads, T + n, headDim])) };
  }

  /** After the step: `n` positions were added to the rows marked in `grew` (all by default). */
  commit(n: number, present: Tensor[], grew: boolean[] = this.lengths.map(() => true)): void {
    if (this.mode === 'append') this.append(n, present, grew);
    else if (this.mode !== 'shared') {
      // pingpong: onnxruntime wrote into the spare buffers (the old ones become the spare); fresh: it returned its own.
      const spare = this.spare;
      const written = present.map((t) => t.data as Buf);
      if (this.mode === 'pingpong' && spare && written.every((w, i) => w.buffer === spare[i].buffer)) {
        this.spare = this.bufs;
        this.bufs = spare;
      } else this.bufs = written;
      this.cap += n;
    }
    grew.forEach((g, b) => g && (this.lengths[b] += n));
  }

  /** Writes the step's new positions ([batch, kvHeads, n, headDim] per layer tensor) after each grown row's length. */
  private append(n: number, present: Tensor[], grew: boolean[]): void {
    const { kvHeads, headDim } = this.shape;
    this.widen(this.length + n);
    present.forEach((t, k) => {
      const src = t.data as Buf;
      if (src.length !== this.batch * kvHeads * n * headDim)
        throw new RangeError(`the graph returned ${src.length} values for ${n} new positions of layer tensor ${k}`);
      for (let b = 0; b < this.batch; b++) {
        if (!grew[b]) continue;
        for (let h = 0; h < kvHeads; h++) {
          const row = (b * kvHeads + h) * n * headDim;
          this.bufs[k].set(src.subarray(row, row + n * headDim), ((b * kvHeads + h) * this.cap + this.lengths[b]) * headDim);
        }
      }
    });
  }

  /** Row `b`, layer tensor `k`: its positions [0, length) of each KV head, as [kvHeads][length * headDim] views. */
  rowData(b: number, k: number): Buf[] {
    const { kvHeads, headDim } = this.shape;
    const stride = this.cap * headDim;
    // pingpong/fresh rows are aligned on the right of a T = cap wide block (left padding).
    const start = inPlaceMode(this.mode) ? 0 : (this.cap - this.lengths[b]) * headDim;
    return Array.from({ length: kvHeads }, (_, h) => {
      const base = (b * kvHeads + h) * stride + start;
      return this.bufs[k].subarray(base, base + this.lengths[b] * headDim);
    });
  }

  /**
   * A one-row cache holding the first `n` positions of row `b` (a shared prompt prefix), with room
   * for `extra` more. In place, its stride starts at `n`: a prompt continued from a prefix would
   * otherwise read its whole length of columns in every chunk.
   */
  copyPrefix(n: number, b = 0, extra = 0): KVCache {
    const out = new KVCache(this.shape, this.mode, 1, n, n + extra);
    out.fill([{ cache: this, row: b, n }]);
    return out;
  }

  /**
   * A batch of the given rows' first n positions, aligned as this mode needs: shared rows start at
   * position 0 (right padding), the others end at the last column (left padding).
   */
  static gather(shape: KVShape, mode: KVMode, rows: { cache: KVCache; row: number; n: number }[], extra = 0): KVCache {
    const width = Math.max(...rows.map((r) => r.n));
    const out = new KVCache(shape, mode, rows.length, width + extra);
    out.reserve(width + extra);
    out.fill(rows);
    return out;
  }

  private fill(rows: { cache: KVCache; row: number; n: number }[]): void {
    const { kvHeads, headDim } = this.shape;
    const width = Math.max(...rows.map((r) => r.n));
    if (!inPlaceMode(this.mode)) {
      this.cap = width;
      // pingpong: sized for the whole run, so neither buffer is ever reallocated.
      this.bufs = this.bufs.map(() => alloc(this.shape, this.batch * kvHeads * Math.max(width, this.room) * headDim));
    }
    rows.forEach((src, b) => {
      this.lengths[b] = src.n;
      for (let k = 0; k < this.bufs.length; k++) {
        const heads = src.cache.rowData(src.row, k);
        for (let h = 0; h < kvHeads; h++) {
          const stride = this.cap * headDim;
          const at = (b * kvHeads + h) * stride + (inPlaceMode(this.mode) ? 0 : (width - src.n) * headDim);
          this.bufs[k].set(heads[h].subarray(0, src.n * headDim), at);
        }
      }
    });
  }

  /** Columns of the attention mask / output for row b: where its positions sit in the batch's width. */
  columns(b: number, total: number): { start: number; end: number } {
    if (inPlaceMode(this.mode)) return { start: 0, end: this.lengths[b] };
    return { start: total - this.lengths[b], end: total };
  }
}
