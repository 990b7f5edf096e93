// loadModel: folder or Hub id -> config, tokenizer, instrumented session, generate().
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readArchConfig, readTemplate, type ArchConfig } from './config.js';
import { instrumentedGraph, defaultCacheDir, type InstrumentedGraph } from './cache.js';
import type { InstrumentShape } from './instrument.js';
import { createSession, type SessionOptions } from './session.js';
import { Runner, type RunnerShape } from './runner.js';
import { loadTokenizer } from './tokenizer.js';
import { assertNoNestedModels, findModelFiles, GENAI_CONFIG } from './files.js';
import { resolveModelDir } from './hub.js';
import { finiteLogits, generate } from './generate.js';
import { PrefixCache } from './prefix.js';
import { createDecoder } from './decoder.js';
import { batchRowsFor, chooseKVMode, generateBatch, ignoresUnusedColumns, probeBatching } from './batch.js';
import { RetrievalLensError } from '../shared/errors.js';
import type { LoadOptions, LoadedModel, ModelInfo } from './types.js';

export interface EngineModel extends LoadedModel {
  runner: Runner;
}

/** A session on an instrumented graph (cached on disk, or in memory), reading weights from the source folder. */
export function graphSession(graph: InstrumentedGraph, opts: Omit<SessionOptions, 'weightsDir'> = {}) {
  return createSession(graph.path ?? graph.bytes!, { ...opts, weightsDir: graph.weightsDir });
}

/** What a Runner needs to know of a described model. */
export function runnerShape(arch: ArchConfig, graph: InstrumentedGraph): RunnerShape {
  return {
    layers: arch.layers,
    heads: arch.heads,
    // The graph's own cache shape wins (an MHA export may keep a cache per query head).
    kvHeads: graph.io.kvHeads ?? arch.kvHeads,
    headDim: graph.io.headDim ?? arch.headDim,
    vocabSize: arch.vocabSize,
    kvType: graph.io.kvType,
    maxPositions: arch.contextLength,
  };
}

function instrumentShape(arch: ArchConfig): InstrumentShape {
  return { layers: arch.layers, heads: arch.heads, kvHeads: arch.kvHeads, headDim: arch.headDim, windowed: arch.windowed };
}

/**
 * A session on the instrumented graph and its runner, after one token through it: a config that
 * does not describe the graph fails here, not mid-run, and so do weights that compute NaN.
 */
async function openRunner(
  graph: InstrumentedGraph,
  arch: ArchConfig,
  sourcePath: string,
  file: string,
  opts: LoadOptions,
): Promise<Runner> {
  let session;
  try {
    session = await graphSession(graph, { executionProviders: opts.executionProviders, threads: opts.threads });
  } catch (e) {
    // The instrumented copy is built from the user's file: name that file, not the cache entry.
    if (e instanceof RetrievalLensError && e.code === 'CORRUPT_ONNX') {
      const why = e.message.replace(/^.*?Load model from \S+ failed:\s*/, '').replace(/^onnxruntime cannot load \S+: /, '');
      throw new RetrievalLensError('CORRUPT_ONNX', `onnxruntime cannot load the graph of ${sourcePath}: ${why}`);
    }
    throw e;
  }
  const runner = new Runner(session, runnerShape(arch, graph), graph.io);
  try {
    const probe = await runner.newSequence().forward([arch.bosTokenId ?? 0], { attention: true });
    if (probe.logits && !finiteLogits(probe.logits)) {
      throw new RetrievalLensError(
        'CORRUPT_ONNX',
        `the model computes NaN logits for one token: its weights in ${file} are damaged (or the graph is not a decoder)`,
      );
    }
  } catch (e) {
    await session.release();
    throw e;
  }
  return runner;
}

/** Reads everything about a model that needs no onnxruntime session. */
export async function describeModel(spec: string, opts: LoadOptions = {}) {
  const dir = await resolveModelDir(spec, { dtype: opts.dtype, cacheDir: opts.hubCacheDir, onProgress: opts.onProgress });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RetrievalLensError('MODEL_NOT_FOUND', `model folder not found: ${dir}`);
  if (!existsSync(join(dir, 'config.json')) && !existsSync(join(dir, GENAI_CONFIG))) assertNoNestedModels(dir);
  const arch = readArchConfig(dir);
  const onnxFile = findModelFiles(dir, opts.dtype);
  opts.onProgress?.({ stage: 'instrument', file: onnxFile.file, message: 'instrumenting the ONNX graph' });
  const graph = await instrumentedGraph(onnxFile.path, instrumentShape(arch), opts.cacheDir ?? defaultCacheDir(), onnxFile.hints);
  if (graph.cacheWarning) opts.onProgress?.({ stage: 'warning', message: graph.cacheWarning });
  // A GenAI folder holds one variant: its dtype is what the graph holds.
  const dtype = onnxFile.layout === 'genai' ? graph.graphDtype : onnxFile.dtype;
  return { dir, arch, onnxFile, graph, dtype };
}

export async function loadModel(spec: string, opts: LoadOptions = {}): Promise<EngineModel> {
  const { dir, arch, onnxFile, graph: described, dtype } = await describeModel(spec, opts);
  opts.onProgress?.({ stage: 'tokenizer', message: 'loading the tokenizer' });
  const tokenizer = await loadTokenizer(dir);
  opts.onProgress?.({ stage: 'session', message: 'creating the onnxruntime session' });
  let graph = described;
  let runner = await openRunner(graph, arch, onnxFile.path, onnxFile.file, opts);
  // The session a failure below must release (none while the graph is being rebuilt).
  let open: Runner | null = runner;
  let batchable = false;
  try {
    if (
      runner.kvMode === 'append' &&
      graph.attention.some((a) => a.form === 'plain') &&
      !(await ignoresUnusedColumns(runner, arch.vocabSize))
    ) {
      open = null;
      await runner.session.release();
      opts.onProgress?.({
        stage: 'warning',
        message: `${onnxFile.file}: the attention does not mask unused KV-cache columns through attention_mask, so the cache is not read in place (decoding slows down as the context grows)`,
      });
      // What a windowed config gets: the export's own concatenation.
      graph = await instrumentedGraph(
        onnxFile.path,
        { ...instrumentShape(arch), windowed: true },
        opts.cacheDir ?? defaultCacheDir(),
        onnxFile.hints,
      );
      runner = open = await openRunner(graph, arch, onnxFile.path, onnxFile.file, opts);
    }
    runner.kvMode = await chooseKVMode(runner, graph.attention, arch.vocabSize);
    batchable = await probeBatching(runner, arch.vocabSize).catch(() => false);
  } catch (e) {
    await open?.session.release();
    throw e;
  }
  const session = runner.session;
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
    windowed: arch.windowed,
    bosTokenId: arch.bosTokenId,
    eosTokenIds: arch.eosTokenIds,
    onnxFile: onnxFile.file,
    dtype,
    layout: onnxFile.layout,
    attentionForms: graph.attention.map((a) => a.form),
    batchDecoding: batchable,
    kvCache: runner.kvMode,
    template: readTemplate(dir),
    // Known without rendering: a template is code, run only when a prompt needs it.
    hasChatTemplate: tokenizer.hasChatTemplate,
  };
  const model: EngineModel = {
    info,
    tokenizer,
    runner,
    instrumentation: {
      layout: onnxFile.layout,
      sourcePath: onnxFile.path,
      sourceSha256: graph.sha256,
      instrumentedPath: graph.path ?? '(in memory)',
      fromCache: graph.fromCache,
      attention: graph.attention,
      dtype,
    },
    generate: (ids, gopts) => generate(runner, info, tokenizer, ids, gopts, graph.attention),
    generateBatch: (prompts, gopts) => generateBatch(runner, batchable, info, tokenizer, prompts, gopts, graph.attention),
    batchRows: (tokens) => (batchable ? batchRowsFor(runner.shape, tokens) : 1),
    prefixCache: () => new PrefixCache(runner),
    decoder: (dopts) => createDecoder(runner, info, graph.attention, dopts),
    dispose: async () => {
      await session.release();
    },
  };
  return model;
}
