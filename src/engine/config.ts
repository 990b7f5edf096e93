// Reads a Hugging Face config.json into the sizes the engine needs. Families differ in key
// names (gpt2: n_layer/n_head/n_positions; phi3/gemma: explicit head_dim; ...), so each
// field is looked up under every name a supported family uses.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RetrievalLensError } from '../shared/errors.js';
import { readTextFile } from '../shared/textFile.js';
import type { ArchConfig } from './types.js';

/** Families tested end to end (fixtures in test/fixtures/models); other decoder-only families work when their graph does. */
export const SUPPORTED_FAMILIES = ['llama', 'qwen2', 'qwen3', 'mistral', 'gpt2', 'phi3', 'phi', 'gemma', 'gemma2', 'gemma3_text'];
/** Encoder and encoder-decoder families: no causal decoder with a KV cache to analyse. */
const NOT_DECODERS = [
  't5',
  'mt5',
  'umt5',
  'bart',
  'mbart',
  'marian',
  'pegasus',
  'whisper',
  'bert',
  'roberta',
  'xlm-roberta',
  'distilbert',
  'deberta',
  'deberta-v2',
  'electra',
  'albert',
  'vit',
  'clip',
  'siglip',
  'wav2vec2',
  'speecht5',
  'encoder-decoder',
  'vision-encoder-decoder',
];

export type { ArchConfig };

type Json = Record<string, unknown>;

/** Most layers and heads per layer a config may declare (the largest models have a few hundred). */
const MAX_LAYERS = 1024;
const MAX_HEADS = 1024;

function pick(cfg: Json, keys: string[]): number | undefined {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Largest config-like JSON file read (config.json, generation_config.json, retrieval-lens.json, ...). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export function readJson(path: string, what: string): Json {
  if (!existsSync(path)) throw new RetrievalLensError('NOT_A_MODEL', `${what} not found: ${path}`);
  const text = readTextFile(path, { maxBytes: MAX_CONFIG_BYTES, what, code: 'NOT_A_MODEL' });
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Json;
  } catch (e) {
    throw new RetrievalLensError('NOT_A_MODEL', `${what} is not valid JSON (${(e as Error).message}): ${path}`);
  }
}

export function parseArchConfig(raw: Json, generation: Json | null): ArchConfig {
  // Multimodal wrappers (gemma3) keep the language model under text_config.
  const cfg: Json = typeof raw.text_config === 'object' && raw.text_config ? { ...raw, ...(raw.text_config as Json) } : raw;
  const modelType = String(cfg.model_type ?? '');
  if (!modelType) throw new RetrievalLensError('NOT_A_MODEL', 'config.json has no model_type');
  if (NOT_DECODERS.includes(modelType)) {
    throw new RetrievalLensError(
      'UNSUPPORTED_ARCHITECTURE',
      `model_type "${modelType}" is not supported: it is not a decoder-only language model (tested decoder families: ${SUPPORTED_FAMILIES.join(', ')})`,
    );
  }
  const layers = pick(cfg, ['num_hidden_layers', 'n_layer', 'num_layers']);
  const heads = pick(cfg, ['num_attention_heads', 'n_head']);
  const hiddenSize = pick(cfg, ['hidden_size', 'n_embd', 'd_model']);
  const vocabSize = pick(cfg, ['vocab_size']);
  if (!layers || !heads || !hiddenSize || !vocabSize) {
    throw new RetrievalLensError('NOT_A_MODEL', `config.json lacks layer/head/hidden/vocab sizes for model_type "${modelType}"`);
  }
  const kvHeads = pick(cfg, ['num_key_value_heads', 'n_head_kv', 'num_kv_heads']) ?? heads;
  const explicitHeadDim = pick(cfg, ['head_dim']);
  // Sizes shape the instrumented graph and every tensor: each must be a positive integer in reason.
  const size = (name: string, v: number, max: number) => {
    if (!Number.isInteger(v) || v <= 0 || v > max)
      throw new RetrievalLensError(
        'NOT_A_MODEL',
        `config.json: ${name} must be a positive integer${v > max ? ` up to ${max}` : ''}, got ${v}`,
      );
  };
  size('num_hidden_layers', layers, MAX_LAYERS);
  size('num_attention_heads', heads, MAX_HEADS);
  size('num_key_value_heads', kvHeads, MAX_HEADS);
  size('hidden_size', hiddenSize, 1 << 20);
  size('vocab_size', vocabSize, 1 << 24);
  if (explicitHeadDim !== undefined) size('head_dim', explicitHeadDim, 1 << 16);
  if (heads % kvHeads !== 0)
    throw new RetrievalLensError('NOT_A_MODEL', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = explicitHeadDim ?? hiddenSize / heads;
  if (!Number.isInteger(headDim))
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `config.json: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${heads}, and there is no head_dim`,
    );
  const contextLength = pick(cfg, ['max_position_embeddings', 'n_positions', 'n_ctx', 'seq_length']) ?? 2048;
  size('max_position_embeddings', contextLength, 1 << 24);
  const gen = generation ?? {};
  const eos = ids(gen.eos_token_id ?? cfg.eos_token_id);
  const bos = pick(gen, ['bos_token_id']) ?? pick(cfg, ['bos_token_id']) ?? null;
  // Token ids outside the vocabulary would index past the embeddings or never stop a generation.
  for (const [name, id] of [...(bos === null ? [] : [['bos_token_id', bos] as const]), ...eos.map((e) => ['eos_token_id', e] as const)]) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
      throw new RetrievalLensError(
        'NOT_A_MODEL',
        `${generation && name in generation ? 'generation_config.json' : 'config.json'}: ${name} ${id} is not a token id of the ${vocabSize}-token vocabulary`,
      );
  }
  return {
    modelType,
    layers,
    heads,
    kvHeads,
    headDim,
    hiddenSize,
    vocabSize,
    contextLength,
    bosTokenId: bos,
    eosTokenIds: eos,
    windowed: windowedAttention(cfg, contextLength),
  };
}

/**
 * Whether a config's attention uses a sliding window. Families say so differently: layer_types
 * names each layer's kind (gemma2/3, newer qwen2); otherwise a sliding_window shorter than the
 * context is in use unless use_sliding_window is false (qwen2 keeps the field but turns it off).
 */
function windowedAttention(cfg: Json, contextLength: number): boolean {
  if (Array.isArray(cfg.layer_types)) return cfg.layer_types.some((k) => typeof k === 'string' && k.includes('sliding'));
  const w = cfg.sliding_window;
  return typeof w === 'number' && w > 0 && w < contextLength && cfg.use_sliding_window !== false;
}

/** genai_config.json (ONNX Runtime GenAI) into the same sizes: model.decoder holds them. */
export function parseGenaiConfig(raw: Json): ArchConfig {
  const model = (raw.model ?? {}) as Json;
  const decoder = (model.decoder ?? {}) as Json;
  const hf: Json = {
    model_type: model.type,
    num_hidden_layers: decoder.num_hidden_layers,
    num_attention_heads: decoder.num_attention_heads,
    num_key_value_heads: decoder.num_key_value_heads,
    head_dim: decoder.head_size,
    hidden_size: decoder.hidden_size,
    vocab_size: model.vocab_size,
    max_position_embeddings: model.context_length,
    bos_token_id: model.bos_token_id,
    eos_token_id: model.eos_token_id,
  };
  try {
    return parseArchConfig(hf, null);
  } catch (e) {
    if (e instanceof RetrievalLensError) throw new RetrievalLensError(e.code, e.message.replace('config.json', 'genai_config.json'));
    throw e;
  }
}

/** config.json (Hugging Face), else genai_config.json (ONNX Runtime GenAI folders have no config.json). */
export function readArchConfig(dir: string): ArchConfig {
  const path = join(dir, 'config.json');
  const genaiPath = join(dir, 'genai_config.json');
  if (!existsSync(path)) {
    if (existsSync(genaiPath)) return parseGenaiConfig(readJson(genaiPath, 'genai_config.json'));
    throw new RetrievalLensError('NOT_A_MODEL', `${dir} is not a model folder (no config.json or genai_config.json)`);
  }
  const genPath = join(dir, 'generation_config.json');
  const gen = existsSync(genPath) ? readJson(genPath, 'generation_config.json') : null;
  return parseArchConfig(readJson(path, 'config.json'), gen);
}

/** The folder's default prompt template (retrieval-lens.json `{"template": ...}`), if any. */
export function readTemplate(dir: string): string | null {
  const path = join(dir, 'retrieval-lens.json');
  if (!existsSync(path)) return null;
  const t = readJson(path, 'retrieval-lens.json').template;
  if (t === undefined || t === null) return null;
  if (typeof t !== 'string' || !t.includes('{context}') || !t.includes('{question}')) {
    throw new RetrievalLensError('NOT_A_MODEL', `retrieval-lens.json in ${dir}: "template" must be a string with {context} and {question}`);
  }
  return t;
}
