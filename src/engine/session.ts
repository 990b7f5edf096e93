// The one place that creates onnxruntime sessions (like transformers.js's backends/onnx.js):
// execution providers, threads and error translation live here.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RetrievalLensError } from '../shared/errors.js';

export { ort };
export type Tensor = ort.Tensor;

export interface SessionOptions {
  executionProviders?: string[];
  threads?: number;
  /** Folder the graph's external-data locations are relative to, when the graph file is not in it. */
  weightsDir?: string;
}

/**
 * Providers this install of onnxruntime-node can use here: the ones bundled with its binary, and
 * the others (CUDA, TensorRT) only when their provider library was installed beside it (the npm
 * package's install script downloads them; offline installs skip it).
 */
export function availableProviders(): string[] {
  const backends = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends?.();
  if (!backends) return ['cpu'];
  let binDir: string | null = null;
  try {
    binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    binDir = null;
  }
  const installed = (name: string) =>
    binDir !== null &&
    [`libonnxruntime_providers_${name}.so`, `onnxruntime_providers_${name}.dll`].some((f) => existsSync(join(binDir!, f)));
  return backends.filter((b) => b.name !== 'webgpu' && (b.bundled || installed(b.name))).map((b) => b.name);
}

export async function createSession(source: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const path = typeof source === 'string' ? source : 'the instrumented graph';
  const wanted = opts.executionProviders?.length ? opts.executionProviders : ['cpu'];
  const known = availableProviders();
  // Unknown providers are dropped rather than failing, so a setting made on a CUDA machine still runs elsewhere.
  const providers = wanted.filter((p) => known.includes(p) || p === 'cpu');
  if (!providers.includes('cpu')) providers.push('cpu');
  try {
    // Fatal only: a failing run is reported once, as our error; onnxruntime's own log lines would
    // add a second, multi-line message on stderr.
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: providers,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4,
    };
    if (opts.threads && opts.threads > 0) options.intraOpNumThreads = opts.threads;
    // onnxruntime's profiler, for finding what a step spends (a JSON trace per session, written at dispose).
    const profile = process.env.RETRIEVAL_LENS_ORT_PROFILE;
    if (profile) Object.assign(options, { enableProfiling: true, profileFilePrefix: profile });
    if (opts.weightsDir) options.extra = { session: { model_external_initializers_file_folder_path: opts.weightsDir } };
    return typeof source === 'string'
      ? await ort.InferenceSession.create(source, options)
      : await ort.InferenceSession.create(source, options);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/protobuf|Protobuf parsing failed|ModelProto|Load model from .* failed/i.test(msg)) {
      throw new RetrievalLensError('CORRUPT_ONNX', `onnxruntime cannot load ${path}: ${msg.split('\n')[0]}`);
    }
    throw new RetrievalLensError('RUNTIME', `onnxruntime failed to create a session for ${path}: ${msg.split('\n')[0]}`);
  }
}
