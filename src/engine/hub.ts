// A model spec is a local folder or, written explicitly, a Hub id ("hf:owner/name[@revision]"): a
// relative path like "models/mine" that does not exist is a missing folder, never a download.
// Downloads go to the user's Hugging Face cache, else our own cache folder (shared/hubCache.ts),
// as <downloads>/<owner>/<name>[/<revision>]: a model folder we load like any local one.
// Files are fetched by hubFetch.ts with transformers.js's public Hub settings.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { env } from '@huggingface/transformers';
import { fetchHubFile, hubFileUrl, HubHttpError } from './hubFetch.js';
import { DTYPE_SUFFIX, externalDataLocations, externalDataPath, findOnnxFile, normalizeDtype, onnxCandidates } from './files.js';
import { RetrievalLensError, cancelled, throwIfAborted } from '../shared/errors.js';
import { defaultCacheDir } from './cache.js';
import { makeDirs } from '../shared/dirs.js';
import { hubDownloadDir } from '../shared/hubCache.js';
import type { LoadOptions } from './types.js';

/** Files a run reads besides the ONNX graph; `true` marks the ones a model cannot do without. */
export const HUB_FILES: [string, boolean][] = [
  ['config.json', true],
  ['tokenizer.json', true],
  ['tokenizer_config.json', true],
  ['generation_config.json', false],
  ['special_tokens_map.json', false],
  ['retrieval-lens.json', false],
  ['chat_template.jinja', false],
];

export interface HubId {
  /** owner/name */
  id: string;
  revision: string;
}

// transformers.js' REPO_ID_REGEX, with the owner required: a bare name is far more likely a
// mistyped folder than one of the few owner-less legacy repos.
const HUB_ID = /^([A-Za-z0-9][\w.-]{0,95})\/([A-Za-z0-9][\w.-]{0,95})(?:@([\w.][\w./-]*))?$/;

/** The Hub id in a spec, or null when it is not shaped like one. */
export function parseHubId(spec: string): HubId | null {
  const m = HUB_ID.exec(spec);
  if (!m) return null;
  const id = `${m[1]}/${m[2]}`;
  // isValidHfModelId's extra rules, and no ".." that would leave the cache folder.
  if (/\.\.|--/.test(id) || id.endsWith('.git') || (m[3] ?? '').split('/').includes('..')) return null;
  return { id, revision: m[3] ?? 'main' };
}

export function isHubId(spec: string): boolean {
  return parseHubId(spec) !== null;
}

/** How a spec asks for a Hub model: "hf:owner/name[@revision]". */
export const HUB_PREFIX = 'hf:';

/**
 * The default download folder: the user's Hugging Face cache (<HF home>/transformers.js), else
 * <our cache folder>/hub, never transformers.js's folder inside the installed package.
 */
export function defaultHubCacheDir(): string {
  const cache = defaultCacheDir();
  const dir = hubDownloadDir(cache && join(cache, 'hub'));
  if (!dir)
    throw new RetrievalLensError(
      'DOWNLOAD_FAILED',
      'no folder to download Hub models into: set HF_HOME (or RETRIEVAL_LENS_CACHE) to a folder',
    );
  return dir;
}

/** Where FileCache puts a repo's files (see the header comment). */
export function hubModelDir(hubId: HubId, cacheDir = defaultHubCacheDir()): string {
  const parts = hubId.id.split('/');
  return hubId.revision === 'main' ? resolve(cacheDir, ...parts) : resolve(cacheDir, ...parts, ...hubId.revision.split('/'));
}

export interface ResolveOptions {
  dtype?: string;
  /** Download folder; default defaultHubCacheDir(). */
  cacheDir?: string;
  onProgress?: LoadOptions['onProgress'];
  signal?: AbortSignal;
}

/**
 * A local folder path (returned absolute), or "hf:owner/name[@revision]", whose files are
 * downloaded (once) into the download folder: returns the model's folder there.
 */
export async function resolveModelDir(spec: string, opts: ResolveOptions = {}): Promise<string> {
  if (spec.startsWith(HUB_PREFIX)) return resolveHubModel(spec, opts);
  const local = resolve(spec);
  if (existsSync(local)) {
    if (!statSync(local).isDirectory())
      throw new RetrievalLensError('NOT_A_MODEL', `a model is a folder (config.json, tokenizer.json, onnx/); got a file: ${local}`);
    return local;
  }
  if (parseHubId(spec)) {
    throw new RetrievalLensError(
      'MODEL_NOT_FOUND',
      `no model folder ${local}; to download the Hugging Face Hub model "${spec}", give it as ${HUB_PREFIX}${spec}`,
    );
  }
  throw new RetrievalLensError(
    'MODEL_NOT_FOUND',
    `model folder not found: ${local} ("${spec}" is not a Hub id of the form owner/name[@revision] either)`,
  );
}

async function resolveHubModel(spec: string, opts: ResolveOptions): Promise<string> {
  const hubId = parseHubId(spec.slice(HUB_PREFIX.length));
  if (!hubId) throw new RetrievalLensError('MODEL_NOT_FOUND', `"${spec}" is not a Hub id of the form ${HUB_PREFIX}owner/name[@revision]`);
  const dtype = normalizeDtype(opts.dtype);
  const cacheDir = resolve(opts.cacheDir ?? defaultHubCacheDir());
  const dir = hubModelDir(hubId, cacheDir);
  // Everything already cached: no network at all, so cached models work offline.
  if (complete(dir, dtype)) return dir;
  if (!env.allowRemoteModels) {
    throw new RetrievalLensError(
      'MODEL_NOT_FOUND',
      `"${spec}" is not (completely) in the cache ${dir}, and downloads are off (env.allowRemoteModels = false)`,
    );
  }
  try {
    makeDirs(cacheDir);
  } catch (e) {
    throw new RetrievalLensError(
      'DOWNLOAD_FAILED',
      `cannot create the download folder ${cacheDir} (${(e as Error).message.split('\n')[0]}); set HF_HOME to a writable folder`,
    );
  }
  await download(hubId, dir, dtype, opts);
  return dir;
}

function complete(dir: string, dtype: string | undefined): boolean {
  if (!HUB_FILES.every(([f, required]) => !required || existsSync(join(dir, f)))) return false;
  try {
    findOnnxFile(dir, dtype); // also checks its external data is all there
    return true;
  } catch {
    return false;
  }
}

async function download(hubId: HubId, dir: string, dtype: string | undefined, opts: ResolveOptions): Promise<void> {
  const { id, revision } = hubId;
  /** Fetches one file into the model folder; false when the repository has no such file (404). */
  const fetchFile = async (file: string, required: boolean): Promise<boolean> => {
    throwIfAborted(opts.signal);
    if (existsSync(join(dir, file))) return true;
    try {
      await fetchHubFile(id, revision, file, dir, {
        signal: opts.signal,
        onProgress: (p) =>
          opts.onProgress?.({ stage: 'download', file: p.file, loaded: p.loaded, total: p.total, message: `downloading ${p.file}` }),
      });
    } catch (e) {
      if (!required && status(e) === 404) return false;
      throw downloadError(e, hubId, file, opts.signal);
    }
    opts.onProgress?.({ stage: 'download', file, message: `${file} ready` });
    return true;
  };

  for (const [file, required] of HUB_FILES) await fetchFile(file, required);

  // Without a dtype, the same preference as findOnnxFile: fp32, else the first variant the repo has.
  const tried: string[] = [];
  let onnxFile: string | undefined;
  for (const d of dtype ? [dtype] : Object.keys(DTYPE_SUFFIX)) {
    for (const f of onnxCandidates(d)) {
      tried.push(f);
      if (await fetchFile(f, false)) {
        onnxFile = f;
        break;
      }
    }
    if (onnxFile) break;
  }
  if (!onnxFile) {
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `"${id}" (revision ${revision}) has no ${dtype ?? ''}${dtype ? ' ' : ''}ONNX decoder at ${env.remoteHost}: tried ${tried.join(', ')}`,
    );
  }
  for (const loc of externalDataLocations(join(dir, onnxFile))) await fetchFile(externalDataPath(onnxFile, loc), true);
}

function status(e: unknown): number | undefined {
  return e instanceof HubHttpError ? e.status : undefined;
}

function downloadError(e: unknown, hubId: HubId, file: string, signal?: AbortSignal): RetrievalLensError {
  if (e instanceof RetrievalLensError) return e;
  if (signal?.aborted) return cancelled();
  const { id, revision } = hubId;
  const url = hubFileUrl(id, revision, file);
  const code = status(e);
  if (code === 401 || code === 403 || code === 404) {
    const why =
      code === 404 ? 'not found (404)' : `refused (${code}): the repository does not exist, or it is private or gated (set HF_TOKEN)`;
    if (file === 'config.json')
      return new RetrievalLensError('MODEL_NOT_FOUND', `no model "${id}" (revision ${revision}) at ${env.remoteHost}: ${url} ${why}`);
    if (file.startsWith('tokenizer')) return new RetrievalLensError('NO_TOKENIZER', `"${id}" has no ${file}: ${url} ${why}`);
    return new RetrievalLensError('DOWNLOAD_FAILED', `cannot download ${file} of "${id}": ${url} ${why}`);
  }
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const reason = err.cause?.code ?? err.cause?.message ?? err.message?.split('\n')[0] ?? String(e);
  return new RetrievalLensError('DOWNLOAD_FAILED', `cannot download ${file} of "${id}" from ${url}: ${reason}`);
}
