// Runs a (instrumented or plain) decoder graph with a KV cache: chunked prefill, then one token
// per step. The graph's names come from its DecoderIO (io.ts): input_ids, attention_mask,
// position_ids (absent in GenAI graphs, which derive positions from the mask), the past
// [batch, kvHeads, past, headDim] per layer; outputs logits and the present per layer.
import { ort, type Tensor } from './session.js';
import { HEAD_MASK, HEAD_MASK_UNIFORM, ALL_ATTENTIONS, ATTENTION_ROWS } from './instrument.js';
import { HEAD_RESTRICT, RESTRICT_SPAN } from './restrict.js';
import { describeIO, type DecoderIO } from './io.js';
import { NEW_POSITIONS_DIM } from './gqaInPlace.js';
import { KVCache, type KVMode } from './kv.js';
import { RetrievalLensError } from '../shared/errors.js';

export interface RunnerShape {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  /** 'float32' or 'float16' KV cache. */
  kvType: 'float32' | 'float16';
  /** The model's positions (config), where KV caches stop growing unless asked for more. */
  maxPositions?: number;
}

export interface ForwardOptions {
  /** Restricted heads (decoding steps: one new token). */
  restrict?: Restriction | null;
  /** Flattened [layers, heads], 1 keeps, 0 masks; null = no masking. */
  mask?: Float32Array | null;
  uniform?: boolean;
  /** Fetch the last query's attention rows. */
  attention?: boolean;
  /** With attention: the rows of this many last positions (at most the tokens fed; default 1). */
  attentionRows?: number;
  /** Fetch logits; prefill chunks other than the last skip them. */
  logits?: boolean;
}

export interface ForwardResult {
  /** Logits of the last position, [vocab]. */
  logits?: Float32Array;
  /** Last queries' attention, [layers, heads, rows, kvLen] (rows = attentionRows, 1 by default). */
  attention?: Float32Array;
  /** Rows per head in `attention`. */
  attentionRows?: number;
  kvLen: number;
}

const BYTES_PER_FLOAT = 4;
/**
 * Default working-memory budget for one prefill chunk's activations. Each chunk reads every weight
 * once, so small chunks make a long prefill re-read the model hundreds of times (32-row chunks of an
 * 8K prompt on a 0.5B model: 640 GB of reads); 192 MB keeps chunks near 100 rows there while the
 * peak stays within weights + KV cache + 512 MB.
 */
export const DEFAULT_PREFILL_BUDGET_BYTES = 192 * 1024 * 1024;

/**
 * Rows per prefill chunk so that one chunk's attention scores and probabilities
 * ([heads, chunk, kvLen] each, a few alive at once) and its logits ([chunk, vocab]) fit the budget.
 */
export function prefillChunkSize(
  shape: Pick<RunnerShape, 'heads' | 'vocabSize'>,
  totalLen: number,
  budget = DEFAULT_PREFILL_BUDGET_BYTES,
): number {
  const perRow = BYTES_PER_FLOAT * (3 * shape.heads * Math.max(totalLen, 1) + shape.vocabSize);
  const rows = Math.floor(budget / perRow);
  if (rows >= totalLen) return Math.max(totalLen, 1);
  // Multiples of 16 keep the matmuls' shapes friendly; never below 16 rows.
  return Math.max(16, rows - (rows % 16));
}

/** One call of the graph for `batch` rows of `n` new tokens each (the rows' pasts padded on the left to one length). */
export interface StepInput {
  /** [batch, n] */
  ids: number[];
  batch: number;
  n: number;
  /**
   * [batch, past + n]: 1 for real positions, 0 for left padding; or, for one row with nothing padded,
   * just its length (the runner feeds a cached run of ones: building 32K int64s costs ms every step).
   */
  attentionMask: number[] | number;
  /** [batch, n] */
  positions: number[];
  /** Per layer key then value, [batch, kvHeads, past, headDim]. */
  past: Tensor[];
  /** Preallocated present outputs (see kv.ts); null lets onnxruntime allocate them. */
  presentInto?: Tensor[] | null;
  mask?: Float32Array | null;
  uniform?: boolean;
  /** Heads seeing only the first `sink` and last `window` positions ([layers, heads], 1 restricts); decoding steps only. */
  restrict?: Restriction | null;
  logits: boolean;
  attention: boolean;
  /** Rows of the last positions per head (default 1, at most n). */
  attentionRows?: number;
}

export interface Restriction {
  heads: Float32Array;
  sink: number;
  window: number;
}

export interface StepOutput {
  present: Tensor[];
  /** Last position's logits of each row, [batch][vocab]. */
  logits?: Float32Array[];
  /** [batch, layers * heads, rows, kvLen] */
  attention?: Float32Array;
  kvLen: number;
}

export class Runner {
  readonly instrumented: boolean;
  readonly inputNames: Set<string>;
  readonly io: DecoderIO;
  private readonly allOnes: Float32Array;
  private readonly allZeros: Float32Array;
  /** How sequences keep their KV cache (kv.ts); model loading picks it by probing the graph. */
  kvMode: KVMode = 'fresh';

  constructor(
    readonly session: ort.InferenceSession,
    readonly shape: RunnerShape,
    io?: DecoderIO,
  ) {
    this.inputNames = new Set(session.inputNames);
    this.instrumented = this.inputNames.has(HEAD_MASK);
    // A session on an uninstrumented graph (tests, benchmarks): its names are all there is to go on.
    this.io =
      io ??
      describeIO(
        { input: session.inputNames.map((name) => ({ name })), output: session.outputNames.map((name) => ({ name })) },
        shape.layers,
      );
    this.allOnes = new Float32Array(shape.layers * shape.heads).fill(1);
    this.allZeros = new Float32Array(shape.layers * shape.heads);
    // A graph whose GroupQueryAttention reads the cache in place returns only the new positions.
    const present = new Set(this.io.present.flat());
    const meta = (session.outputMetadata ?? []) as readonly { name: string; isTensor: boolean; shape?: readonly (number | string)[] }[];
    if (meta.some((m) => present.has(m.name) && m.isTensor && m.shape?.[2] === NEW_POSITIONS_DIM)) this.kvMode = 'append';
  }

  newSequence(): Sequence {
    return new Sequence(this);
  }

  private ones = new BigInt64Array(0);

  /** `n` int64 ones, a view of a buffer kept across steps. */
  private ones64(n: number): BigInt64Array {
    if (this.ones.length < n) this.ones = new BigInt64Array(Math.max(n, Math.ceil(this.ones.length * 1.5))).fill(1n);
    return this.ones.subarray(0, n);
  }

  newCache(batch = 1, cap = 0): KVCache {
    return new KVCache(this.shape, this.kvMode, batch, cap);
  }

  async step(x: StepInput): Promise<StepOutput> {
    const io = this.io;
    const { layers, heads, vocabSize } = this.shape;
    const total = typeof x.attentionMask === 'number' ? x.attentionMask : x.attentionMask.length / x.batch;
    const attentionRows = Math.max(1, Math.min(x.attentionRows ?? 1, x.n));
    const feeds: Record<string, Tensor> = { [io.inputIds]: int64(x.ids, [x.batch, x.n]) };
    if (io.attentionMask) {
      const m = x.attentionMask;
      feeds[io.attentionMask] =
        io.attentionMaskType === 'int64'
          ? int64(typeof m === 'number' ? this.ones64(m) : m, [x.batch, total])
          : new ort.Tensor('int32', typeof m === 'number' ? new Int32Array(m).fill(1) : Int32Array.from(m), [x.batch, total]);
    }
    if (io.useCacheBranch) feeds[io.useCacheBranch] = new ort.Tensor('bool', [total > x.n], [1]);
    if (io.positionIds) feeds[io.positionIds] = int64(x.positions, [x.batch, x.n]);
    if (io.logitsToKeep) feeds[io.logitsToKeep] = int64([1], []);
    for (let l = 0; l < layers; l++) {
      feeds[io.past[l][0]] = x.past[2 * l];
      feeds[io.past[l][1]] = x.past[2 * l + 1];
    }
    if (this.instrumented) {
      feeds[HEAD_MASK] = new ort.Tensor('float32', x.mask ?? this.allOnes, [layers, heads]);
      feeds[HEAD_MASK_UNIFORM] = new ort.Tensor('float32', Float32Array.of(x.uniform === false ? 0 : 1), [1]);
      feeds[HEAD_RESTRICT] = new ort.Tensor('float32', x.restrict?.heads ?? this.allZeros, [layers, heads]);
      feeds[RESTRICT_SPAN] = int64(x.restrict ? [x.restrict.sink, x.restrict.window] : [0, 0], [2]);
      if (this.inputNames.has(ATTENTION_ROWS)) feeds[ATTENTION_ROWS] = int64([attentionRows], [1]);
    } else if (x.mask || x.attention || x.restrict) {
      throw new RetrievalLensError('BAD_INPUT', 'masks and attention need the instrumented graph');
    }
    const fetches: Record<string, Tensor | null> = {};
    if (x.logits) fetches[io.logits] = null;
    io.present.flat().forEach((name, k) => (fetches[name] = x.presentInto?.[k] ?? null));
    if (x.attention) fetches[ALL_ATTENTIONS] = null;
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds, fetches as ort.InferenceSession.FetchesType);
    } catch (e) {
      const msg = ((e as Error).message ?? String(e)).split('\n')[0];
      // Our own nodes broadcast per-head factors and regroup heads by the config's sizes: a failure
      // there means the heads are not what the config says.
      const ours = /Name:'(retrieval_lens\/[^']+)'/.exec(msg)?.[1];
      if (ours && /broadcast|reshape/i.test(msg)) {
        const { kvHeads, headDim } = this.shape;
        throw new RetrievalLensError(
          'CONFIG_MISMATCH',
          `the model config says ${heads} attention heads per layer (${kvHeads} key/value heads, head dim ${headDim}) but the graph's attention has other sizes (node ${ours} cannot ${/reshape/i.test(msg) ? 'regroup' : 'broadcast'} them); the config does not describe this graph`,
        );
      }
      throw new RetrievalLensError('RUNTIME', `onnxruntime failed to run the model: ${msg}`);
    }
    const result: StepOutput = { present: io.present.flat().map((name) => out[name]), kvLen: total };
    if (x.logits) {
      const t = out[io.logits]; // [batch, rows, vocab]: rows = n, or 1 once the LM head sees the last row only
      if (t.dims[t.dims.length - 1] !== vocabSize) {
        throw new RetrievalLensError(
          'CONFIG_MISMATCH',
          `the model config says vocab size ${vocabSize} but the graph's logits have ${t.dims[t.dims.length - 1]}; the config does not describe this graph`,
        );
      }
      const rows = t.dims.length === 3 ? t.dims[1] : t.dims[0] / x.batch;
      const data = t.data as Float32Array | Uint16Array;
      result.logits = Array.from({ length: x.batch }, (_, b) => {
        const last = data.subarray((b * rows + rows - 1) * vocabSize, (b * rows + rows) * vocabSize);
        return last instanceof Uint16Array ? halfToFloat(last) : Float32Array.from(last);
      });
    }
    if (x.attention) {
      const a = out[ALL_ATTENTIONS]; // [batch, layers * heads, rows, kvLen]
      const rows = a.dims.length === 4 ? a.dims[2] : 1;
      if (a.dims[1] !== layers * heads || a.dims[a.dims.length - 1] !== total || rows !== attentionRows) {
        throw new RetrievalLensError(
          'CONFIG_MISMATCH',
          `the model config says ${layers} layers x ${heads} heads but the graph's attention rows are [${a.dims.slice(1).join(', ')}] for ${attentionRows} of ${total} positions; the config does not describe this graph`,
        );
      }
      result.attention = a.data as Float32Array;
    }
    return result;
  }
}

function int64(values: number[] | BigInt64Array, dims: number[]): Tensor {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(values, (v) => BigInt(v));
  return new ort.Tensor('int64', data, dims);
}

/** IEEE half (as onnxruntime-node returns float16 data, a Uint16Array) to float32. */
export function halfToFloat(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const sign = x & 0x8000 ? -1 : 1;
    const exp = (x >> 10) & 0x1f;
    const frac = x & 0x3ff;
    out[i] =
      exp === 0
        ? sign * 2 ** -14 * (frac / 1024)
        : exp === 31
          ? frac
            ? NaN
            : sign * Infinity
          : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}

export class Sequence {
  constructor(
    readonly runner: Runner,
    // An empty past keeps its head_dim: GroupQueryAttention reads it from the past's last axis.
    public kv: KVCache = runner.newCache(),
  ) {}

  /** Tokens in the KV cache. */
  get length(): number {
    return this.kv.length;
  }

  /** Room for n positions without growing mid-run (shared caches). */
  reserve(n: number): void {
    this.kv.reserve(n);
  }

  /** A new sequence holding a copy of this one's first `n` positions (a shared prompt prefix). */
  fork(n: number, extra = 0): Sequence {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`cannot fork ${n} of ${this.length} positions`);
    return new Sequence(this.runner, this.kv.copyPrefix(n, 0, extra));
  }

  /** Feeds `ids` in one call: [1, n] tokens at positions length..length+n-1. */
  async forward(ids: number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    const n = ids.length;
    const total = this.length + n;
    const { past, present } = this.kv.tensors(n);
    const out = await this.runner.step({
      ids,
      batch: 1,
      n,
      attentionMask: total,
      positions: Array.from({ length: n }, (_, i) => this.length + i),
      past,
      presentInto: present,
      mask: opts.mask,
      uniform: opts.uniform,
      restrict: opts.restrict,
      logits: opts.logits !== false,
      attention: Boolean(opts.attention),
      attentionRows: opts.attentionRows,
    });
    this.kv.commit(n, out.present);
    const result: ForwardResult = { kvLen: total };
    if (out.logits) result.logits = out.logits[0];
    if (out.attention) {
      result.attention = out.attention; // [1, layers * heads, rows, kvLen] = [layers, heads, rows, kvLen]
      result.attentionRows = Math.max(1, Math.min(opts.attentionRows ?? 1, n));
    }
    return result;
  }

  /** Feeds a long prompt in chunks sized by prefillChunkSize; returns the last position's logits. */
  async prefill(ids: number[], opts: ForwardOptions & { chunkSize?: number; signal?: AbortSignal } = {}): Promise<ForwardResult> {
    if (ids.length === 0) return { kvLen: this.length };
    const chunk = opts.chunkSize ?? prefillChunkSize(this.runner.shape, this.length + ids.length);
    let last: ForwardResult = { kvLen: this.length };
    for (let i = 0; i < ids.length; i += chunk) {
      if (opts.signal?.aborted) throw new RetrievalLensError('CANCELLED', 'cancelled');
      const isLast = i + chunk >= ids.length;
      last = await this.forward(ids.slice(i, i + chunk), {
        ...opts,
        logits: isLast && opts.logits !== false,
        attention: isLast && opts.attention,
      });
    }
    return last;
  }
}
