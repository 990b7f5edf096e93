// Reads a Hugging Face config.json into the sizes the engine needs. Families differ in key
// names (gpt2: n_layer/n_head/n_positions; phi3/gemma: explicit head_dim; ...), so each
// field is looked up under every name a supported family uses.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { RetrievalLensError } from './errors.js';

export const SUPPORTED_FAMILIES = ['llama', 'qwen2', 'qwen3', 'mistral', 'gpt2', 'phi3', 'phi', 'gemma', 'gemma2', 'gemma3_text'];

export interface ArchConfig {
  modelType: string;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  contextLength: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

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

export function readJson(path: string, what: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new RetrievalLensError('NOT_A_MODEL', `${what} not found: ${path}`);
  }
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
  if (!SUPPORTED_FAMILIES.includes(modelType)) {
    throw new RetrievalLensError(
      'UNSUPPORTED_ARCHITECTURE',
      `model_type "${modelType}" is not supported; supported decoder families: ${SUPPORTED_FAMILIES.join(', ')}`,
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
  if (heads % kvHeads !== 0) throw new RetrievalLensError('NOT_A_MODEL', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = pick(cfg, ['head_dim']) ?? hiddenSize / heads;
  const contextLength = pick(cfg, ['max_position_embeddings', 'n_positions', 'n_ctx', 'seq_length']) ?? 2048;
  const gen = generation ?? {};
  const eos = ids(gen.eos_token_id ?? cfg.eos_token_id);
  const bos = pick(gen, ['bos_token_id']) ?? pick(cfg, ['bos_token_id']) ?? null;
  return { modelType, layers, heads, kvHeads, headDim, hiddenSize, vocabSize, contextLength, bosTokenId: bos, eosTokenIds: eos };
}

export function readArchConfig(dir: string): ArchConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new RetrievalLensError('NOT_A_MODEL', `not a model folder (no config.json): ${dir}`);
  const genPath = join(dir, 'generation_config.json');
  const gen = existsSync(genPath) ? readJson(genPath, 'generation_config.json') : null;
  return parseArchConfig(readJson(path, 'config.json'), gen);
}

/** The folder's default prompt template (retrieval-lens.json `{"template": ...}`), if any. */
export function readTemplate(dir: string): string | null {
  const path = join(dir, 'retrieval-lens.json');
  if (!existsSync(path)) return null;
  const t = readJson(path, 'retrieval-lens.json').template;
  return typeof t === 'string' ? t : null;
}
