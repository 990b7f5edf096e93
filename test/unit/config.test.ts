// config.json of each supported family reads into the same sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArchConfig, readArchConfig } from '../../src/engine/config.js';
import { bundledModel } from '../support/paths.js';

test('llama with grouped-query attention (the bundled organism)', () => {
  const a = readArchConfig(bundledModel);
  assert.deepEqual([a.modelType, a.layers, a.heads, a.kvHeads, a.headDim, a.contextLength, a.bosTokenId], ['llama', 6, 8, 4, 32, 2048, 1]);
  assert.deepEqual(a.eosTokenIds, [2]);
});

test('qwen2, mistral, phi3, gemma and gpt2 key names', () => {
  const qwen = parseArchConfig(
    {
      model_type: 'qwen2',
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      hidden_size: 896,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      eos_token_id: 151643,
    },
    { eos_token_id: [151645, 151643] },
  );
  assert.deepEqual([qwen.layers, qwen.heads, qwen.kvHeads, qwen.headDim, qwen.contextLength], [24, 14, 2, 64, 32768]);
  assert.deepEqual(qwen.eosTokenIds, [151645, 151643], 'generation_config eos wins');
  const mistral = parseArchConfig(
    {
      model_type: 'mistral',
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      hidden_size: 4096,
      vocab_size: 32000,
      max_position_embeddings: 32768,
    },
    null,
  );
  assert.equal(mistral.kvHeads, 8);
  const gemma = parseArchConfig(
    {
      model_type: 'gemma',
      num_hidden_layers: 18,
      num_attention_heads: 8,
      num_key_value_heads: 1,
      head_dim: 256,
      hidden_size: 2048,
      vocab_size: 256000,
      max_position_embeddings: 8192,
    },
    null,
  );
  assert.equal(gemma.headDim, 256, 'explicit head_dim, not hidden/heads');
  const gpt2 = parseArchConfig(
    { model_type: 'gpt2', n_layer: 12, n_head: 12, n_embd: 768, vocab_size: 50257, n_positions: 1024, eos_token_id: 50256 },
    null,
  );
  assert.deepEqual([gpt2.layers, gpt2.heads, gpt2.kvHeads, gpt2.headDim, gpt2.contextLength], [12, 12, 12, 64, 1024]);
  const phi3 = parseArchConfig(
    {
      model_type: 'phi3',
      num_hidden_layers: 32,
      num_attention_heads: 32,
      hidden_size: 3072,
      vocab_size: 32064,
      max_position_embeddings: 131072,
    },
    null,
  );
  assert.equal(phi3.kvHeads, 32);
});

test('sliding windows in use, as each family says so', () => {
  const base = {
    model_type: 'x',
    num_hidden_layers: 2,
    num_attention_heads: 4,
    hidden_size: 64,
    vocab_size: 100,
    max_position_embeddings: 4096,
  };
  const windowed = (extra: Record<string, unknown>) => parseArchConfig({ ...base, ...extra }, null).windowed;
  assert.equal(windowed({}), false, 'no window field');
  assert.equal(windowed({ sliding_window: null }), false, 'mistral v0.2+: null');
  assert.equal(windowed({ sliding_window: 1024 }), true, 'mistral v0.1: a window shorter than the context');
  assert.equal(windowed({ sliding_window: 1024, use_sliding_window: false }), false, 'qwen2 keeps the field, turned off');
  assert.equal(windowed({ sliding_window: 262144 }), false, 'phi3-128k: wider than the context');
  assert.equal(windowed({ sliding_window: 512, layer_types: ['sliding_attention', 'full_attention'] }), true, 'gemma2/3 layer types');
  assert.equal(windowed({ sliding_window: 512, layer_types: ['full_attention', 'full_attention'] }), false, 'layer types say none slides');
  assert.equal(windowed({ text_config: { sliding_window: 512, layer_types: ['sliding_attention'] } }), true, 'gemma3 text_config');
});

test('unsupported families and broken configs are specific errors', () => {
  assert.throws(() => parseArchConfig({ model_type: 't5' }, null), /model_type "t5" is not supported/);
  assert.throws(() => parseArchConfig({ model_type: 'llama', num_attention_heads: 8 }, null), /lacks layer\/head\/hidden\/vocab sizes/);
  assert.throws(
    () =>
      parseArchConfig(
        { model_type: 'llama', num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 3, hidden_size: 64, vocab_size: 10 },
        null,
      ),
    /not a multiple/,
  );
});
