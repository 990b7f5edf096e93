// KV-cache storage for a sequence (or a batch of rows).
//   shared  GroupQueryAttention graphs: past and present are ONE preallocated buffer
//           [batch, kvHeads, cap, headDim]; the op appends the new positions in place
//           (onnxruntime's past/present buffer sharing), so the cache costs its size once and a
//           decoding step copies nothing.
//   fresh   graphs that Concat(past, new) into the present: onnxruntime allocates each present and
//           hands it over. (Preallocated ping-pong buffers for these measured slower, 189 vs 138 ms
//           a step at 2K tokens on a 0.5B model: onnxruntime-node does not write into them directly.)
// Rows of a batch are aligned on the right (left padding, for graphs fed position_ids) or on the
// left (right padding, for GroupQueryAttention, which places each row's new token after its own length).
import { ort, type Tensor } from './session.js';

export type KVMode = 'shared' | 'fresh';
type Buf = Float32Array | Uint16Array;

export interface KVShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  kvType: 'float32' | 'float16';
}

function alloc(shape: KVShape, n: number): Buf {
  return shape.kvType === 'float16' ? new Uint16Array(n) : new Float32Array(n);
}

export class KVCache {
  /** Positions each row holds. */
  readonly lengths: number[];
  /** Per layer key then value. */
  private bufs: Buf[];
  /** Positions a row's slot can hold (shared) / the current data's width (fresh). */
  private cap: number;

  constructor(
    readonly shape: KVShape,
    readonly mode: KVMode,
    readonly batch = 1,
    initialCap = 0,
  ) {
    this.lengths = new Array(batch).fill(0);
    this.cap = mode === 'shared' ? Math.max(initialCap, 16) : 0;
    const per = batch * shape.kvHeads * this.cap * shape.headDim;
    this.bufs = Array.from({ length: shape.layers * 2 }, () => alloc(shape, per));
  }

  /** The longest row. */
  get length(): number {
    return Math.max(0, ...this.lengths);
  }

  /** Shared mode: room for `n` positions per row, growing (and copying once) when short. */
  reserve(n: number): void {
    if (this.mode !== 'shared' || n <= this.cap) return;
    const cap = Math.max(n, Math.ceil(this.cap * 1.5));
    const { kvHeads, headDim } = this.shape;
    this.bufs = this.bufs.map((old) => {
      const dst = alloc(this.shape, this.batch * kvHeads * cap * headDim);
      for (let r = 0; r < this.batch * kvHeads; r++) dst.set(old.subarray(r * this.cap * headDim, r * this.cap * headDim + this.lengths[Math.floor(r / kvHeads)] * headDim), r * cap * headDim);
      return dst;
    });
    this.cap = cap;
  }

  /** Past inputs and preallocated present outputs (null: onnxruntime allocates) for a step adding `n` positions to every row. */
  tensors(n: number): { past: Tensor[]; present: Tensor[] | null } {
    const { kvHeads, headDim, kvType } = this.shape;
    const B = this.batch;
    if (this.mode === 'shared') {
      this.reserve(this.length + n);
      const dims = [B, kvHeads, this.cap, headDim];
      const t = this.bufs.map((b) => new ort.Tensor(kvType, b, dims));
      return { past: t, present: t.map((x) => new ort.Tensor(kvType, x.data as Buf, dims)) };
    }
    // fresh: the data is compact, [B, kvHeads, T, headDim] with T = this.cap.
    const T = this.cap;
    return { past: this.bufs.map((b) => new ort.Tensor(kvType, b.subarray(0, B * kvHeads * T * headDim), [B, kvHeads, T, headDim])), present: null };
  }

  /** After the step: `n` positions were added to the rows marked in `grew` (all by default). */
  commit(n: number, present: Tensor[], grew: boolean[] = this.lengths.map(() => true)): void {
    if (this.mode === 'fresh') {
      this.bufs = present.map((t) => t.data as Buf);
      this.cap += n;
    }
    grew.forEach((g, b) => g && (this.lengths[b] += n));
  }

  /** Row `b`, layer tensor `k`: its positions [0, length) of each KV head, as [kvHeads][length * headDim] views. */
  rowData(b: number, k: number): Buf[] {
    const { kvHeads, headDim } = this.shape;
    const stride = this.cap * headDim;
    // fresh rows are aligned on the right of a T = cap wide block (left padding).
    const start = this.mode === 'shared' ? 0 : (this.cap - this.lengths[b]) * headDim;
    return Array.from({ length: kvHeads }, (_, h) => {
      const base = (b * kvHeads + h) * stride + start;
      return this.bufs[k].subarray(base, base + this.lengths[b] * headDim);
    });
  }

  /** A one-row cache holding the first `n` positions of row `b` (a shared prompt prefix). */
  copyPrefix(n: number, b = 0, extra = 0): KVCache {
    const out = new KVCache(this.shape, this.mode, 1, n + extra);
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
    out.fill(rows);
    return out;
  }

  private fill(rows: { cache: KVCache; row: number; n: number }[]): void {
    const { kvHeads, headDim } = this.shape;
    const width = Math.max(...rows.map((r) => r.n));
    if (this.mode !== 'shared') {
      this.cap = width;
      this.bufs = this.bufs.map(() => alloc(this.shape, this.batch * kvHeads * width * headDim));
    }
    rows.forEach((src, b) => {
      this.lengths[b] = src.n;
      for (let k = 0; k < this.bufs.length; k++) {
        const heads = src.cache.rowData(src.row, k);
        for (let h = 0; h < kvHeads; h++) {
          const stride = this.cap * headDim;
          const at = (b * kvHeads + h) * stride + (this.mode === 'shared' ? 0 : (width - src.n) * headDim);
          this.bufs[k].set(heads[h].subarray(0, src.n * headDim), at);
        }
      }
    });
  }

  /** Columns of the attention mask / output for row b: where its positions sit in the batch's width. */
  columns(b: number, total: number): { start: number; end: number } {
    if (this.mode === 'shared') return { start: 0, end: this.lengths[b] };
    return { start: total - this.lengths[b], end: total };
  }
}
