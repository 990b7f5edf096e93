// Hub ids download through transformers.js' Hub code from a local server that answers the way
// the Hub does (/{owner}/{name}/resolve/{revision}/{path}); never the network.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { resolveModelDir, parseHubId, hubModelDir } from '../../src/engine/hub.js';
import { findOnnxFile } from '../../src/engine/files.js';
import { RetrievalLensError } from '../../src/shared/errors.js';
import { loadModel } from '../../src/engine/model.js';
import { makeExternalDataCopy } from '../fixtures/externalData.js';
import { sharedModel, tempDir } from '../support/paths.js';

const stories = sharedModel('stories260K');
const TEXT_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

/** A model folder with stories260K's json files and the given ONNX files (name -> source path). */
function repoFolder(onnxFiles: Record<string, string>, skip: string[] = []): string {
  const dir = tempDir('rl-hub-repo-');
  mkdirSync(join(dir, 'onnx'));
  for (const f of TEXT_FILES.filter((f) => !skip.includes(f))) copyFileSync(join(stories, f), join(dir, f));
  for (const [name, src] of Object.entries(onnxFiles)) copyFileSync(src, join(dir, 'onnx', name));
  return dir;
}

const storiesOnnx = join(stories, 'onnx', 'model.onnx');
const extDir = repoFolder({});
makeExternalDataCopy(storiesOnnx, join(extDir, 'onnx'), { chunks: 2 });

const repos: Record<string, { dir: string; revisions: string[]; slow?: boolean }> = {
  'test-org/stories260K': { dir: stories, revisions: ['main', 'v1'] },
  'test-org/ext-data': { dir: extDir, revisions: ['main'] },
  'test-org/variants': {
    dir: repoFolder({ 'model_fp16.onnx': storiesOnnx, 'decoder_model_merged_q4.onnx': storiesOnnx }),
    revisions: ['main'],
  },
  'test-org/no-tokenizer': { dir: repoFolder({ 'model.onnx': storiesOnnx }, ['tokenizer.json']), revisions: ['main'] },
  'test-org/slow': { dir: stories, revisions: ['main'], slow: true },
};

interface Hit {
  path: string;
  status: number;
}
let hits: Hit[] = [];
let server: Server;
let host: string;
const saved = {
  remoteHost: env.remoteHost,
  cacheDir: env.cacheDir,
  allowRemoteModels: env.allowRemoteModels,
  localModelPath: env.localModelPath,
};

before(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://127.0.0.1').pathname);
    const send = (status: number, body = '') => {
      hits.push({ path, status });
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    };
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repo = m && repos[m[1]];
    // The Hub answers 401 for a repository that does not exist (it cannot tell it from a private one).
    if (!m || !repo || !repo.revisions.includes(m[2])) return send(401, 'Repository not found');
    const file = resolve(repo.dir, m[3]);
    if (!file.startsWith(repo.dir + sep) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'Entry not found');
    hits.push({ path, status: 200 });
    const size = statSync(file).size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if (repo.slow && file.endsWith('.onnx')) {
      // Half the file, then nothing until the client gives up: a download to cancel midway.
      res.write(readFileSync(file).subarray(0, size >> 1));
      return;
    }
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

beforeEach(() => {
  env.remoteHost = host;
  env.allowRemoteModels = true;
  hits = [];
});

after(async () => {
  Object.assign(env, saved);
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

const reEscape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function rejects(p: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RetrievalLensError, `expected RetrievalLensError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

const sameBytes = (a: string, b: string) => assert.ok(readFileSync(a).equals(readFileSync(b)), `${a} differs from ${b}`);

test('a Hub id downloads config, tokenizer and ONNX into the transformers.js cache layout, with progress', async () => {
  const cache = tempDir('rl-hub-cache-');
  const events: { file?: string; loaded?: number; total?: number }[] = [];
  const dir = await resolveModelDir('hf:test-org/stories260K', { cacheDir: cache, onProgress: (p) => events.push(p) });
  assert.equal(dir, join(cache, 'test-org', 'stories260K'));
  assert.equal(dir, hubModelDir({ id: 'test-org/stories260K', revision: 'main' }, cache));
  for (const f of [...TEXT_FILES, 'onnx/model.onnx']) {
    assert.ok(lstatSync(join(dir, f)).isFile(), `${f} is a real file in the cache`);
    sameBytes(join(dir, f), join(stories, f));
  }
  // Optional files the repo lacks are asked for and skipped; nothing else lands in the folder.
  assert.deepEqual(readdirSync(dir).sort(), [...TEXT_FILES, 'onnx'].sort());
  assert.deepEqual(readdirSync(join(dir, 'onnx')), ['model.onnx']);
  assert.ok(hits.some((h) => h.path === '/test-org/stories260K/resolve/main/retrieval-lens.json' && h.status === 404));
  const onnxSize = statSync(storiesOnnx).size;
  const onnxEvents = events.filter((e) => e.file === 'onnx/model.onnx' && e.loaded !== undefined);
  assert.ok(onnxEvents.length > 0, 'progress for the ONNX file');
  assert.ok(onnxEvents.every((e) => e.total === onnxSize));
  assert.equal(onnxEvents.at(-1)!.loaded, onnxSize);
  assert.deepEqual(findOnnxFile(dir), { path: join(dir, 'onnx', 'model.onnx'), file: 'onnx/model.onnx', dtype: 'fp32', externalData: [] });

  // Second time: everything is cached, the server sees no request at all.
  hits = [];
  assert.equal(await resolveModelDir('hf:test-org/stories260K', { cacheDir: cache }), dir);
  assert.deepEqual(hits, []);
});

test('the downloaded folder loads a tokenizer offline, identical to the source folder', async () => {
  const cache = tempDir('rl-hub-cache-');
  const dir = await resolveModelDir('hf:test-org/stories260K', { cacheDir: cache });
  hits = [];
  env.allowRemoteModels = false;
  env.localModelPath = '';
  const fromCache = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const fromSource = await AutoTokenizer.from_pretrained(stories, { local_files_only: true });
  env.localModelPath = saved.localModelPath;
  const text = 'Once upon a time, Lily found a red ball.';
  const ids = fromCache.encode(text);
  assert.ok(ids.length > 5);
  assert.deepEqual(ids, fromSource.encode(text));
  assert.equal(fromCache.decode(ids, { skip_special_tokens: true }), fromSource.decode(ids, { skip_special_tokens: true }));
  assert.deepEqual(hits, []);
});

/** Runs fn with environment variables set (undefined: unset), restoring them after. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v))
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
  };
  set(vars);
  try {
    return await fn();
  } finally {
    set(before);
  }
}

test("item 17: without a folder given, downloads go to the user's Hugging Face cache, else ours; never the package's own", async () => {
  const hfHome = tempDir('rl-hf-home-');
  await withEnv({ HF_HOME: hfHome }, async () => {
    const dir = await resolveModelDir('hf:test-org/stories260K');
    assert.equal(dir, join(hfHome, 'transformers.js', 'test-org', 'stories260K'));
    sameBytes(join(dir, 'onnx', 'model.onnx'), storiesOnnx);
  });
  const hubCache = tempDir('rl-hf-hubcache-');
  await withEnv({ HF_HOME: undefined, HF_HUB_CACHE: join(hubCache, 'hub') }, async () => {
    assert.equal(await resolveModelDir('hf:test-org/stories260K'), join(hubCache, 'transformers.js', 'test-org', 'stories260K'));
  });
  // No Hugging Face cache at all: our own cache folder, not transformers.js's env.cacheDir (inside the installed package).
  const home = tempDir('rl-home-');
  const ours = tempDir('rl-ours-');
  await withEnv(
    { HF_HOME: undefined, HF_HUB_CACHE: undefined, XDG_CACHE_HOME: undefined, HOME: home, RETRIEVAL_LENS_CACHE: ours },
    async () => {
      const dir = await resolveModelDir('hf:test-org/stories260K');
      assert.equal(dir, join(ours, 'hub', 'test-org', 'stories260K'));
      assert.ok(!String(env.cacheDir ?? '').length || !dir.startsWith(resolve(String(env.cacheDir))));
    },
  );
  // An existing ~/.cache/huggingface is the user's Hugging Face cache.
  mkdirSync(join(home, '.cache', 'huggingface'), { recursive: true });
  await withEnv(
    { HF_HOME: undefined, HF_HUB_CACHE: undefined, XDG_CACHE_HOME: undefined, HOME: home, RETRIEVAL_LENS_CACHE: ours },
    async () => {
      assert.equal(
        await resolveModelDir('hf:test-org/stories260K'),
        join(home, '.cache', 'huggingface', 'transformers.js', 'test-org', 'stories260K'),
      );
    },
  );
});

test('item 16: a relative path shaped like owner/name that does not exist is a missing folder, not a download', async () => {
  const cwd = process.cwd();
  const dir = tempDir('rl-relative-');
  process.chdir(dir);
  try {
    await rejects(
      resolveModelDir('test-org/stories260K'),
      'MODEL_NOT_FOUND',
      /^no model folder .*test-org\/stories260K; to download the Hugging Face Hub model "test-org\/stories260K", give it as hf:test-org\/stories260K$/,
    );
    assert.deepEqual(hits, [], 'nothing was asked of the Hub');
    // The same spelling as an existing folder is that folder.
    mkdirSync(join(dir, 'test-org', 'stories260K'), { recursive: true });
    assert.equal(await resolveModelDir('test-org/stories260K'), join(dir, 'test-org', 'stories260K'));
    await rejects(
      resolveModelDir('hf:not a hub id'),
      'MODEL_NOT_FOUND',
      /"hf:not a hub id" is not a Hub id of the form hf:owner\/name\[@revision\]/,
    );
  } finally {
    process.chdir(cwd);
  }
});

test('owner/name@revision downloads that revision into its own folder', async () => {
  const cache = tempDir('rl-hub-cache-');
  assert.deepEqual(parseHubId('test-org/stories260K@v1'), { id: 'test-org/stories260K', revision: 'v1' });
  const dir = await resolveModelDir('hf:test-org/stories260K@v1', { cacheDir: cache });
  assert.equal(dir, join(cache, 'test-org', 'stories260K', 'v1'));
  sameBytes(join(dir, 'onnx', 'model.onnx'), storiesOnnx);
  assert.ok(hits.length > 0 && hits.every((h) => h.path.startsWith('/test-org/stories260K/resolve/v1/')));
  assert.ok(!existsSync(join(cache, 'test-org', 'stories260K', 'config.json')), 'main is not touched');
});

test('external data files named in the graph are downloaded with it', async () => {
  const cache = tempDir('rl-hub-cache-');
  const dir = await resolveModelDir('hf:test-org/ext-data', { cacheDir: cache });
  const f = findOnnxFile(dir);
  assert.deepEqual(f.externalData, ['onnx/model.onnx_data', 'onnx/model.onnx_data_1']);
  for (const rel of ['onnx/model.onnx', ...f.externalData]) sameBytes(join(dir, rel), join(extDir, rel));
});

test('dtype variants: the default probes fp32 then the next; an explicit dtype falls back to decoder_model_merged', async () => {
  const cache = tempDir('rl-hub-cache-');
  const dir = await resolveModelDir('hf:test-org/variants', { cacheDir: cache });
  const onnxHits = hits.filter((h) => h.path.includes('/onnx/')).map((h) => `${h.path.split('/onnx/')[1]} ${h.status}`);
  assert.deepEqual(onnxHits, ['model.onnx 404', 'decoder_model_merged.onnx 404', 'model_fp16.onnx 200']);
  assert.deepEqual(readdirSync(join(dir, 'onnx')), ['model_fp16.onnx']);
  assert.equal(findOnnxFile(dir).dtype, 'fp16');

  await resolveModelDir('hf:test-org/variants', { cacheDir: cache, dtype: 'q4' });
  assert.deepEqual(readdirSync(join(dir, 'onnx')).sort(), ['decoder_model_merged_q4.onnx', 'model_fp16.onnx']);
  assert.equal(findOnnxFile(dir, 'q4').file, 'onnx/decoder_model_merged_q4.onnx');

  await rejects(
    resolveModelDir('hf:test-org/variants', { cacheDir: cache, dtype: 'bnb4' }),
    'NOT_A_MODEL',
    /"test-org\/variants" \(revision main\) has no bnb4 ONNX decoder at http:\/\/127\.0\.0\.1:\d+\/: tried onnx\/model_bnb4\.onnx, onnx\/decoder_model_merged_bnb4\.onnx/,
  );
  await rejects(resolveModelDir('hf:test-org/variants', { cacheDir: cache, dtype: 'fp8' }), 'BAD_INPUT', /unknown dtype "fp8"/);
});

test('a repository the host does not have is MODEL_NOT_FOUND naming the id and URL', async () => {
  const cache = tempDir('rl-hub-cache-');
  await rejects(
    resolveModelDir('hf:test-org/no-such-model', { cacheDir: cache }),
    'MODEL_NOT_FOUND',
    /no model "test-org\/no-such-model" \(revision main\) at http:\/\/127\.0\.0\.1:\d+\/: http:\/\/127\.0\.0\.1:\d+\/test-org\/no-such-model\/resolve\/main\/config\.json refused \(401\): the repository does not exist, or it is private or gated/,
  );
  await rejects(
    resolveModelDir('hf:test-org/stories260K@no-branch', { cacheDir: cache }),
    'MODEL_NOT_FOUND',
    /no model "test-org\/stories260K" \(revision no-branch\)/,
  );
  assert.deepEqual(readdirSync(cache), []);
});

test('a repository without tokenizer.json is NO_TOKENIZER', async () => {
  await rejects(
    resolveModelDir('hf:test-org/no-tokenizer', { cacheDir: tempDir('rl-hub-cache-') }),
    'NO_TOKENIZER',
    /"test-org\/no-tokenizer" has no tokenizer\.json: http:\/\/127\.0\.0\.1:\d+\/test-org\/no-tokenizer\/resolve\/main\/tokenizer\.json not found \(404\)/,
  );
});

test('an unreachable host is DOWNLOAD_FAILED naming the URL and file', async () => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((ok) => probe.close(ok));
  env.remoteHost = `http://127.0.0.1:${port}/`;
  await rejects(
    resolveModelDir('hf:test-org/stories260K', { cacheDir: tempDir('rl-hub-cache-') }),
    'DOWNLOAD_FAILED',
    new RegExp(
      `cannot download config\\.json of "test-org/stories260K" from ${reEscape(env.remoteHost)}test-org/stories260K/resolve/main/config\\.json: ECONNREFUSED`,
    ),
  );
});

test('with downloads off, an uncached Hub id is MODEL_NOT_FOUND and nothing is fetched', async () => {
  env.allowRemoteModels = false;
  await rejects(
    resolveModelDir('hf:test-org/stories260K', { cacheDir: tempDir('rl-hub-cache-') }),
    'MODEL_NOT_FOUND',
    /not \(completely\) in the cache .*env\.allowRemoteModels = false/,
  );
  assert.deepEqual(hits, []);
});

test('cancelling midway stops the download and leaves no partial file', async () => {
  const cache = tempDir('rl-hub-cache-');
  const ac = new AbortController();
  const p = resolveModelDir('hf:test-org/slow', {
    cacheDir: cache,
    signal: ac.signal,
    onProgress: (e) => {
      if (e.file === 'onnx/model.onnx' && (e.loaded ?? 0) > 0) ac.abort();
    },
  });
  await rejects(p, 'CANCELLED', /cancelled/);
  const onnxDir = join(cache, 'test-org', 'slow', 'onnx');
  assert.deepEqual(existsSync(onnxDir) ? readdirSync(onnxDir) : [], []);
  // Already cancelled: nothing is asked for.
  hits = [];
  await rejects(resolveModelDir('hf:test-org/stories260K', { cacheDir: cache, signal: ac.signal }), 'CANCELLED', /cancelled/);
  assert.deepEqual(hits, []);
});

test('specs that are neither a folder nor a Hub id', async () => {
  const dir = tempDir('rl-hub-local-');
  writeFileSync(join(dir, 'file.txt'), 'x');
  assert.equal(await resolveModelDir(dir), dir);
  await rejects(resolveModelDir(join(dir, 'file.txt')), 'NOT_A_MODEL', /a model is a folder .*got a file/);
  for (const spec of ['./no/such-folder', join(dir, 'missing'), 'just-a-name', 'a/b/c', '../x/y', 'owner/na..me', 'owner/name@../../etc']) {
    await rejects(
      resolveModelDir(spec),
      'MODEL_NOT_FOUND',
      /model folder not found: .*is not a Hub id of the form owner\/name\[@revision\]/,
    );
  }
  assert.deepEqual(hits, []);
});

test('loadModel runs a model given by Hub id like the same model given as a folder', async () => {
  const cache = tempDir('rl-hub-envcache-');
  try {
    const graphs = tempDir('rl-hub-graphs-');
    const fromHub = await loadModel('hf:test-org/stories260K', { cacheDir: graphs, hubCacheDir: cache });
    const fromDir = await loadModel(stories, { cacheDir: graphs });
    assert.equal(fromHub.info.dir, join(cache, 'test-org', 'stories260K'));
    const prompt = fromDir.tokenizer.encode('Once upon a time');
    const a = await fromHub.generate(prompt, { maxNewTokens: 12 });
    const b = await fromDir.generate(prompt, { maxNewTokens: 12 });
    assert.deepEqual(a.tokenIds, b.tokenIds);
    assert.ok(a.tokenIds.length > 0);
    await fromHub.dispose();
    await fromDir.dispose();
  } finally {
    env.cacheDir = saved.cacheDir;
  }
});
