// A model spec is a local folder or a Hub id ("owner/name[@revision]"). Hub models are fetched by
// @huggingface/transformers' own Hub code into its file cache, whose layout for the main revision
// is <cacheDir>/<owner>/<name>/<file>, i.e. a model folder we can load like any other.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { AutoConfig, AutoTokenizer, AutoModelForCausalLM, env } from '@huggingface/transformers';
import { RetrievalLensError, throwIfAborted } from './errors.js';
import type { LoadOptions } from './types.js';

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/;

export function isHubId(spec: string): boolean {
  return HUB_ID.test(spec) && !spec.startsWith('.') && !isAbsolute(spec);
}

export interface ResolveOptions {
  dtype?: string;
  cacheDir?: string;
  onProgress?: LoadOptions['onProgress'];
  signal?: AbortSignal;
}

interface HubProgress {
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
}

export async function resolveModelDir(spec: string, opts: ResolveOptions = {}): Promise<string> {
  const local = resolve(spec);
  if (existsSync(local)) {
    if (!statSync(local).isDirectory()) throw new RetrievalLensError('NOT_A_MODEL', `a model is a folder (config.json, tokenizer.json, onnx/); got a file: ${local}`);
    return local;
  }
  if (!isHubId(spec)) throw new RetrievalLensError('MODEL_NOT_FOUND', `model folder not found: ${local} (and "${spec}" is not a Hub id of the form owner/name)`);
  const [id, revision = 'main'] = spec.split('@');
  if (opts.cacheDir) env.cacheDir = opts.cacheDir;
  env.allowRemoteModels = true;
  const progress_callback = (p: HubProgress) => {
    if (p.status === 'progress' || p.status === 'done' || p.status === 'initiate') {
      opts.onProgress?.({ stage: 'download', file: p.file, loaded: p.loaded, total: p.total, message: `${p.status} ${p.file ?? ''}` });
    }
  };
  const common = { revision, progress_callback, cache_dir: opts.cacheDir };
  try {
    throwIfAborted(opts.signal);
    await AutoConfig.from_pretrained(id, common);
    throwIfAborted(opts.signal);
    await AutoTokenizer.from_pretrained(id, common);
    throwIfAborted(opts.signal);
    // The model class downloads the ONNX file and its external data for the dtype; the session it
    // opens is released at once (ours is created from the instrumented copy).
    const model = await AutoModelForCausalLM.from_pretrained(id, { ...common, dtype: (opts.dtype ?? 'fp32') as 'fp32', device: 'cpu' });
    await model.dispose();
  } catch (e) {
    if (e instanceof RetrievalLensError) throw e;
    const msg = (e as Error).message ?? String(e);
    throw new RetrievalLensError('DOWNLOAD_FAILED', `could not download "${spec}" from ${env.remoteHost}: ${msg.split('\n')[0]}`);
  }
  const dir = revision === 'main' ? join(env.cacheDir ?? '', id) : join(env.cacheDir ?? '', id, revision);
  if (!existsSync(join(dir, 'config.json'))) throw new RetrievalLensError('DOWNLOAD_FAILED', `downloaded "${spec}" but found no config.json in the cache folder ${dir}`);
  return dir;
}
