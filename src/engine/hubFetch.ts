// One file of a Hugging Face Hub repository into a model folder. transformers.js's public API
// downloads files only as a side effect of loading a tokenizer or a whole model, so the fetch is
// ours, but it follows transformers.js's public settings: env.remoteHost and env.remotePathTemplate
// (a mirror set there applies) and env.fetch; HF_TOKEN authorises private or gated repositories.
// The file is streamed to a temporary name and renamed into place, so a cancelled or failed
// download never leaves a partial file where a model folder expects the real one.
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { env } from '@huggingface/transformers';
import { makeDirs } from '../shared/dirs.js';

export interface FetchProgress {
  file: string;
  loaded: number;
  total?: number;
}

/** An HTTP answer other than 2xx, with its status (404: the repository has no such file). */
export class HubHttpError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`HTTP ${status} for ${url}`);
    this.name = 'HubHttpError';
  }
}

/** The file's URL, as transformers.js builds it from its env. */
export function hubFileUrl(id: string, revision: string, file: string): string {
  const host = String(env.remoteHost ?? 'https://huggingface.co/').replace(/\/?$/, '/');
  const path = String(env.remotePathTemplate ?? '{model}/resolve/{revision}/')
    .replaceAll('{model}', id)
    .replaceAll('{revision}', encodeURIComponent(revision));
  return host + path.replace(/\/?$/, '/') + file.split('/').map(encodeURIComponent).join('/');
}

/** Downloads `file` of the repository to `dir/file`; throws HubHttpError for a non-2xx answer. */
export async function fetchHubFile(
  id: string,
  revision: string,
  file: string,
  dir: string,
  opts: { signal?: AbortSignal; onProgress?: (p: FetchProgress) => void } = {},
): Promise<void> {
  const url = hubFileUrl(id, revision, file);
  const token = process.env.HF_TOKEN ?? process.env.HF_ACCESS_TOKEN;
  const fetchFn = (env.fetch as typeof fetch | undefined) ?? fetch;
  const res = await fetchFn(url, { signal: opts.signal, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok || !res.body) throw new HubHttpError(res.status, url);
  const dest = join(dir, file);
  makeDirs(dirname(dest));
  const tmp = `${dest}.${process.pid}.download`;
  const total = Number(res.headers.get('content-length')) || undefined;
  const out = createWriteStream(tmp);
  let loaded = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      loaded += value.length;
      if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      opts.onProgress?.({ file, loaded, total });
    }
    await new Promise<void>((resolveDone, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolveDone())));
    renameSync(tmp, dest);
  } catch (e) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw e;
  }
}
