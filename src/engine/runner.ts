// Runs a (instrumented or plain) decoder graph with a KV cache: chunked prefill, then one token
// per step. Graph inputs follow the Optimum layout: input_ids, attention_mask, position_ids,
// past_key_values.{l}.key|value [batch, kvHeads, past, headDim]; outputs logits, present.*.
import { ort, type Tensor } from './session.js';
import { HEAD_MASK, HEAD_MASK_UNIFORM, ALL_ATTENTIONS } from './instrument.js';
import { RetrievalLensError } from './errors.js';

export interface RunnerShape {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  /** 'float32' or 'float16' KV cache. */
  kvType: 'float32' | 'float16';
}

export interface ForwardOptions {
  /** Flattened [layers, heads], 1 keeps, 0 masks; null = no masking. */
  mask?: Float32Array | null;
  uniform?: boolean;
  /** Fetch the last query's attention rows. */
  attention?: boolean;
  /** Fetch logits; prefill chunks other than the last skip them. */
  logits?: boolean;
}

export interface ForwardResult {
  /** Logits of the last position, [vocab]. */
  logits?: Float32Array;
  /** Last query's attention, [layers, heads, kvLen]. */
  attention?: Float32Array;
  kvLen: number;
}

const BYTES_PER_FLOAT = 4;
/** Default working-memory budget for one prefill chunk's activations. */
export const DEFAULT_PREFILL_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * Rows per prefill chunk so that one chunk's attention scores and probabilities
 * ([heads, chunk, kvLen] each, a few alive at once) and its logits ([chunk, vocab]) fit the budget.
 */
export function prefillChunkSize(shape: Pick<RunnerShape, 'heads' | 'vocabSize'>, totalLen: number, budget = DEFAULT_PREFILL_BUDGET_BYTES): number {
  const perRow = BYTES_PER_FLOAT * (3 * shape.heads * Math.max(totalLen, 1) + shape.vocabSize);
  const rows = Math.floor(budget / perRow);
  if (rows >= totalLen) return Math.max(totalLen, 1);
  // Multiples of 16 keep the matmuls' shapes friendly; never below 16 rows.
  return Math.max(16, rows - (rows % 16));
}

export class Runner {
  readonly instrumented: boolean;
  readonly inputNames: Set<string>;

  constructor(
    readonly session: ort.InferenceSession,
    readonly shape: RunnerShape,
  ) {
    this.inputNames = new Set(session.inputNames);
    this.instrumented = this.inputNames.has(HEAD_MASK);
    for (const need of ['input_ids', 'past_key_values.0.key']) {
      if (!this.inputNames.has(need)) {
        throw new RetrievalLensError('NOT_A_MODEL', `ONNX graph has no "${need}" input; a decoder with KV-cache inputs (Optimum/transformers.js layout) is needed`);
      }
    }
  }

  newSequence(): Sequence {
    return new Sequence(this);
  }
}

function int64(values: number[] | BigInt64Array, dims: number[]): Tensor {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(values, (v) => BigInt(v));
  return new ort.Tensor('int64', data, dims);
}

export class Sequence {
  private past: Tensor[] = [];
  /** Tokens in the KV cache. */
  length = 0;
  private readonly allOnes: Float32Array;

  constructor(private readonly runner: Runner) {
    const { layers, kvHeads, headDim, kvType, heads } = runner.shape;
    for (let l = 0; l < layers * 2; l++) {
      const empty = kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
      this.past.push(new ort.Tensor(kvType, empty, [1, kvHeads, 0, headDim]));
    }
    this.allOnes = new Float32Array(layers * heads).fill(1);
  }

  /** Feeds `ids` in one call: [1, n] tokens at positions length..length+n-1. */
  async forward(ids: number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    const r = this.runner;
    const { layers, heads, vocabSize } = r.shape;
    const n = ids.length;
    const total = this.length + n;
    const feeds: Record<string, Tensor> = { input_ids: int64(ids, [1, n]) };
    if (r.inputNames.has('attention_mask')) feeds.attention_mask = int64(new BigInt64Array(total).fill(1n), [1, total]);
    // Merged decoders (decoder_model_merged.onnx) pick their branch with this flag.
    if (r.inputNames.has('use_cache_branch')) feeds.use_cache_branch = new ort.Tensor('bool', [this.length > 0], [1]);
    if (r.inputNames.has('position_ids')) feeds.position_ids = int64(Array.from({ length: n }, (_, i) => this.length + i), [1, n]);
    for (let l = 0; l < layers; l++) {
      feeds[`past_key_values.${l}.key`] = this.past[2 * l];
      feeds[`past_key_values.${l}.value`] = this.past[2 * l + 1];
    }
    if (r.instrumented) {
      feeds[HEAD_MASK] = new ort.Tensor('float32', opts.mask ?? this.allOnes, [layers, heads]);
      feeds[HEAD_MASK_UNIFORM] = new ort.Tensor('float32', Float32Array.of(opts.uniform === false ? 0 : 1), [1]);
    } else if (opts.mask || opts.attention) {
      throw new RetrievalLensError('BAD_INPUT', 'masks and attention need the instrumented graph');
    }
    const fetches: string[] = [];
    if (opts.logits !== false) fetches.push('logits');
    for (let l = 0; l < layers; l++) fetches.push(`present.${l}.key`, `present.${l}.value`);
    if (opts.attention) fetches.push(ALL_ATTENTIONS);
    const out = await r.session.run(feeds, fetches);
    for (let l = 0; l < layers; l++) {
      this.past[2 * l] = out[`present.${l}.key`];
      this.past[2 * l + 1] = out[`present.${l}.value`];
    }
    this.length = total;
    const result: ForwardResult = { kvLen: total };
    if (opts.logits !== false) {
      const logits = out.logits.data as Float32Array; // [1, n, vocab]
      result.logits = logits.slice((n - 1) * vocabSize, n * vocabSize);
    }
    if (opts.attention) {
      result.attention = out[ALL_ATTENTIONS].data as Float32Array; // [1, layers * heads, kvLen] = [layers, heads, kvLen]
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
      last = await this.forward(ids.slice(i, i + chunk), { ...opts, logits: isLast && opts.logits !== false, attention: isLast && opts.attention });
    }
    return last;
  }
}
