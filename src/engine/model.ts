// loadModel: folder or Hub id -> config, tokenizer, instrumented session, generate().
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { readArchConfig, readTemplate } from './config.js';
import { instrumentedGraph, defaultCacheDir } from './cache.js';
import { createSession } from './session.js';
import { Runner } from './runner.js';
import { loadTokenizer } from './tokenizer.js';
import { findOnnxFile } from './files.js';
import { resolveModelDir } from './hub.js';
import { generate } from './generate.js';
import { DT } from './graph.js';
import { RetrievalLensError } from './errors.js';
import type { LoadOptions, LoadedModel, ModelInfo } from './types.js';

export interface EngineModel extends LoadedModel {
  runner: Runner;
}

/** Reads everything about a model that needs no onnxruntime session. */
export async function describeModel(spec: string, opts: LoadOptions = {}) {
  const dir = await resolveModelDir(spec, { dtype: opts.dtype, onProgress: opts.onProgress });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RetrievalLensError('MODEL_NOT_FOUND', `model folder not found: ${dir}`);
  const arch = readArchConfig(dir);
  const onnxFile = findOnnxFile(dir, opts.dtype);
  opts.onProgress?.({ stage: 'instrument', file: onnxFile.file, message: 'instrumenting the ONNX graph' });
  const graph = await instrumentedGraph(onnxFile.path, arch.layers, arch.heads, opts.cacheDir ?? defaultCacheDir());
  return { dir, arch, onnxFile, graph };
}

export async function loadModel(spec: string, opts: LoadOptions = {}): Promise<EngineModel> {
  const { dir, arch, onnxFile, graph } = await describeModel(spec, opts);
  opts.onProgress?.({ stage: 'tokenizer', message: 'loading the tokenizer' });
  const tokenizer = await loadTokenizer(dir);
  opts.onProgress?.({ stage: 'session', message: 'creating the onnxruntime session' });
  const session = await createSession(graph.path, { executionProviders: opts.executionProviders, threads: opts.threads });
  const runner = new Runner(session, {
    layers: arch.layers,
    heads: arch.heads,
    kvHeads: arch.kvHeads,
    headDim: arch.headDim,
    vocabSize: arch.vocabSize,
    kvType: graph.activationType === DT.FLOAT16 ? 'float16' : 'float32',
  });
  const info: ModelInfo = {
    id: spec,
    dir: resolve(dir),
    modelType: arch.modelType,
    layers: arch.layers,
    heads: arch.heads,
    kvHeads: arch.kvHeads,
    headDim: arch.headDim,
    hiddenSize: arch.hiddenSize,
    vocabSize: arch.vocabSize,
    contextLength: arch.contextLength,
    bosTokenId: arch.bosTokenId,
    eosTokenIds: arch.eosTokenIds,
    onnxFile: onnxFile.file,
    dtype: onnxFile.dtype,
    template: readTemplate(dir),
    hasChatTemplate: tokenizer.applyChatTemplate('x') !== null,
  };
  const model: EngineModel = {
    info,
    tokenizer,
    runner,
    instrumentation: {
      sourcePath: onnxFile.path,
      sourceSha256: graph.sha256,
      instrumentedPath: graph.path,
      fromCache: graph.fromCache,
      attention: graph.attention,
      dtype: onnxFile.dtype,
    },
    generate: (ids, gopts) => generate(runner, info, tokenizer, ids, gopts),
    dispose: async () => {
      await session.release();
    },
  };
  return model;
}
