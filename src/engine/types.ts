// Public types of the engine. Everything above src/engine (method, cli, worker) talks to
// models only through these shapes, so they stay free of onnxruntime types.

/** What a model folder says about its architecture (read from config.json). */
/** A model's architecture, as its config.json (or genai_config.json) states it. */
export interface ArchConfig {
  modelType: string;
  layers: number;
  /** Query heads per layer. */
  heads: number;
  /** Key/value heads per layer (< heads for grouped-query attention). */
  kvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  /** Longest prompt + generation the model accepts, in tokens. */
  contextLength: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /**
   * Some layer attends through a sliding window (config.json: sliding_window in use). Such a
   * mask counts positions by cache column, so the cache cannot hold unused columns between its
   * positions and the new ones (plainInPlace.ts).
   */
  windowed: boolean;
}

export interface ModelInfo extends ArchConfig {
  /** Folder path or Hub id the user gave. */
  id: string;
  /** Resolved local folder. */
  dir: string;
  /** ONNX file used, relative to dir (e.g. onnx/model.onnx, or model.onnx in a GenAI folder). */
  onnxFile: string;
  /** fp32, fp16, q4, int4 (MatMulNBits), ...: the file's suffix (Optimum) or what its graph holds (GenAI). */
  dtype: string;
  layout: ModelLayout;
  /** Attention form of each layer, in layer order. */
  attentionForms: AttentionForm[];
  /** Whether several prompts decode as one batch (checked at load; else one by one). */
  batchDecoding: boolean;
  /** How the KV cache is kept: shared past/present buffers (GroupQueryAttention), ping-pong buffers, or onnxruntime's own (kv.ts). */
  kvCache: 'append' | 'shared' | 'pingpong' | 'fresh';
  /** Default prompt template from retrieval-lens.json ({context}, {question}), if any. */
  template: string | null;
  hasChatTemplate: boolean;
}

/** How a layer computes attention in the ONNX graph. */
export type AttentionForm = 'plain' | 'GroupQueryAttention' | 'MultiHeadAttention' | 'Attention';

/** One exposed attention site, as found by graph instrumentation. */
export interface AttentionNodeInfo {
  layer: number;
  form: AttentionForm;
  /** The Softmax (plain) or the fused attention node. */
  node: string;
  /** Plain form only: the Q.K^T and probs.V MatMuls. */
  scoreMatMul?: string;
  valueMatMul?: string;
  /** Plain form only: the probabilities pass through Casts (fp16 graphs). */
  casts?: boolean;
  /** Why the paper's uniform mask would not be exactly uniform at this site (attention sinks, biases), if so. */
  uniformCaveat?: string;
  /** Why this site cannot be restricted to a sink and a window (its op), if so. */
  restrictCaveat?: string;
  /** GroupQueryAttention rewritten into plain ops that read the cache in place and return only the new positions. */
  inPlace?: boolean;
}

/** Where a model's files sit: transformers.js/Optimum (`onnx/model*.onnx`) or ONNX Runtime GenAI (`genai_config.json`). */
export type ModelLayout = 'optimum' | 'genai';

export interface InstrumentationInfo {
  layout: ModelLayout;
  sourcePath: string;
  sourceSha256: string;
  instrumentedPath: string;
  fromCache: boolean;
  attention: AttentionNodeInfo[];
  dtype: string;
}

export type { HeadRef, MaskMode, MaskScope, MaskSpec } from '../shared/types.js';
import type { HeadRef, MaskSpec } from '../shared/types.js';

export interface SamplingOptions {
  /** 0 or undefined means greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface StepAttention {
  /** Number of positions attended (past + 1). */
  kvLen: number;
  /** Last-query attention rows, [layers, heads, kvLen] flattened. */
  rows: Float32Array;
}

export interface GenerateStep {
  /** Token generated at this step. */
  token: number;
  /** Position of the query whose attention is reported (the token fed at this step). */
  position: number;
  attention?: StepAttention;
}

export interface GenerateOptions {
  maxNewTokens?: number;
  /** Token ids after which generation stops (the stop token is kept). Default: EOS ids. */
  stopTokens?: number[];
  sampling?: SamplingOptions;
  mask?: MaskSpec;
  /** Ask for per-step attention rows of every head. */
  attention?: boolean;
  signal?: AbortSignal;
  /** Called after every step; the step's attention buffer is only valid during the call. */
  onStep?: (step: GenerateStep, index: number) => void;
  /** Keep attention rows in the result (memory: steps x layers x heads x kvLen floats). */
  keepAttention?: boolean;
  /** Reuse the KV cache of a shared prompt prefix (from LoadedModel.prefixCache()); unmasked prefills only. */
  prefix?: PrefixCacheHandle;
}

/** Opaque handle on an engine prefix cache; counts what it saved. */
export interface PrefixCacheHandle {
  readonly reused: number;
  readonly computed: number;
  /** The prompts generation will be given next: the cache then keeps what they will reuse. */
  expect(prompts: number[][]): void;
  clear(): void;
}

export interface GenerateResult {
  promptTokens: number;
  tokenIds: number[];
  text: string;
  steps: GenerateStep[];
  stoppedBy: 'eos' | 'stop-token' | 'max-tokens';
}

/** Tokenizer of a model folder (wraps @huggingface/transformers' tokenizer). */
export interface TextTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The model has a chat template (known without rendering it). */
  hasChatTemplate: boolean;
  /**
   * Renders one user turn through the model's chat template with the generation prompt, or null
   * without one. Bounded in time and memory; a template that fails throws CHAT_TEMPLATE.
   */
  applyChatTemplate(userContent: string): string | null;
  /** Id of the token that ends a line ("\n"), used as a stop token by detection. */
  newlineTokenId: number | null;
}

export interface LoadOptions {
  /** dtype variant of the ONNX file: fp32 (model.onnx), fp16, quantized, q4, ... */
  dtype?: string;
  /** onnxruntime execution providers in order of preference; default ['cpu']. */
  executionProviders?: string[];
  /** Intra-op threads; 0 or undefined lets onnxruntime choose. */
  threads?: number;
  /** Folder for instrumented graphs; default ~/.cache/retrieval-lens (null: none, keep them in memory). */
  cacheDir?: string | null;
  /** Folder Hub models ("hf:owner/name") are downloaded into; default the user's Hugging Face cache, else ~/.cache/retrieval-lens/hub. */
  hubCacheDir?: string;
  /** Download/instrumentation progress. */
  onProgress?: (p: { stage: string; file?: string; loaded?: number; total?: number; message?: string }) => void;
}

/** A loaded, instrumented model: the one object method code needs. */
export interface LoadedModel {
  info: ModelInfo;
  tokenizer: TextTokenizer;
  instrumentation: InstrumentationInfo;
  /** Greedy/sampled generation with optional masks and per-step attention. */
  generate(promptIds: number[], opts?: GenerateOptions): Promise<GenerateResult>;
  /**
   * Several prompts with the same options, decoded as one batch where the graph allows (results in
   * prompt order; onRowStep gets each row's steps).
   */
  generateBatch(
    prompts: number[][],
    opts?: GenerateOptions & { onRowStep?: (step: GenerateStep, index: number, row: number) => void },
  ): Promise<GenerateResult[]>;
  /**
   * How many prompts of `tokens` positions (prompt and generation) one generateBatch call should
   * decode together: as many as keep the batch's KV cache within the engine's budget, at least 1;
   * 1 where the graph decodes one row at a time.
   */
  batchRows(tokens: number): number;
  /** A step-by-step decoder (see Decoder) with masks and head restrictions fixed for its life. */
  decoder(opts?: DecoderOptions): Decoder;
  /** A cache of shared prompt prefixes for a series of generate() calls (e.g. one detection grid). */
  prefixCache(): PrefixCacheHandle;
  dispose(): Promise<void>;
}

/** Heads restricted to the first `sink` and the last `window` positions of the KV cache (a KV-cache policy's what-if). */
export interface HeadRestriction {
  heads: HeadRef[];
  sink: number;
  window: number;
}

export interface DecoderOptions {
  /** Masked heads: decoding steps only (scope decode), or also the prefill (scope all). */
  mask?: MaskSpec;
  /** Restricted heads, on decoding steps (the prefill sees the whole cache, as a policy applied after it). */
  restrict?: HeadRestriction;
}

/** Feeds tokens one call at a time; prefill() feeds many without reading anything, step() one with its logits. */
export interface Decoder {
  /** Tokens in the KV cache. */
  readonly length: number;
  prefill(ids: number[], signal?: AbortSignal): Promise<void>;
  /** Feeds one token; its logits for the next, and every head's attention row of this position when asked. */
  step(token: number, opts?: { attention?: boolean; signal?: AbortSignal }): Promise<{ logits: Float32Array; attention?: StepAttention }>;
  /**
   * Feeds `ids` as prefill does and returns the attention rows of its last `rows` tokens (default:
   * all), as step would report them (the row of token k sees the cache and ids[0..k]). A chunk of
   * the prefill exposes its rows in the same call.
   */
  prefillRows(ids: number[], opts?: { rows?: number; signal?: AbortSignal }): Promise<StepAttention[]>;
  /**
   * An independent copy holding the same cache: under the same masks and restriction, or under
   * `opts` (decoding steps only: the copied prefill is the original's, so a scope "all" mask is refused).
   */
  fork(opts?: DecoderOptions): Decoder;
}
