// Instrumented graphs are cached on disk so a model is parsed and rewritten once, not on every load.
// The cached graph holds no weights: each weight tensor is written as external data that points
// at its bytes inside the user's own files (the source .onnx at the tensor's byte offset, or the
// external-data file the source already used), and the session is told that the source folder
// holds them. So an entry is a few hundred KB whatever the model's size, no file is linked or
// copied (onnxruntime refuses external data reached through a symlink), and an entry can be
// verified cheaply: its key names everything that shapes the rewrite, and its meta file records
// the graph's sha256, checked before every use. Anything that does not verify is rebuilt.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { onnx, type GraphProto } from './graph.js';
import { instrumentModel, INSTRUMENT_VERSION, type InstrumentShape } from './instrument.js';
import type { DecoderIO, IONameHints } from './io.js';
import { isDir, makeDirs } from '../shared/dirs.js';
import { RetrievalLensError } from '../shared/errors.js';
import type { AttentionNodeInfo } from './types.js';

/**
 * RETRIEVAL_LENS_CACHE when set (not empty), else $XDG_CACHE_HOME/retrieval-lens, else
 * ~/.cache/retrieval-lens; null when there is no home folder to put it in (HOME unset, empty,
 * relative or missing): then graphs are kept in memory, never written into the current folder.
 */
export function defaultCacheDir(): string | null {
  const env = process.env.RETRIEVAL_LENS_CACHE;
  if (env && env.trim()) return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'retrieval-lens');
  let home = '';
  try {
    home = homedir();
  } catch {
    // no home at all
  }
  return home && isAbsolute(home) && isDir(home) ? join(home, '.cache', 'retrieval-lens') : null;
}

/** Why there is no cache folder, for the warning. */
const NO_CACHE =
  'no cache folder (HOME is not set or not a folder; set RETRIEVAL_LENS_CACHE to one to keep instrumented graphs between runs); the instrumented graph is kept in memory only';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

export interface InstrumentedGraph {
  /** The instrumented graph on disk, or null when the cache could not be written (then `bytes`). */
  path: string | null;
  bytes: Uint8Array | null;
  /** The folder onnxruntime must read the weights from (the source file's folder). */
  weightsDir: string;
  /** sha256 of the source ONNX file. */
  sha256: string;
  fromCache: boolean;
  attention: AttentionNodeInfo[];
  activationType: number;
  io: DecoderIO;
  graphDtype: string;
  /** Set when the cache folder was unusable and the graph lives in memory only. */
  cacheWarning?: string;
}

interface Meta {
  version: number;
  key: string;
  graphSha256: string;
  source: string;
  attention: AttentionNodeInfo[];
  activationType: number;
  io: DecoderIO;
  graphDtype: string;
}

/** Decodes an ONNX file, turning protobuf failures into a message a user can act on. */
export function decodeModel(path: string, buf?: Buffer) {
  if (!buf) {
    try {
      buf = readFileSync(path);
    } catch (e) {
      throw new RetrievalLensError('NOT_A_MODEL', `cannot read ONNX file ${path}: ${(e as Error).message}`);
    }
  }
  if (buf.length === 0) throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file is empty: ${path}`);
  let model;
  try {
    model = onnx.ModelProto.decode(buf);
  } catch (e) {
    throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file is corrupt or truncated (${(e as Error).message}): ${path}`);
  }
  if (!model.graph || !model.graph.node?.length)
    throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file has no graph (corrupt, truncated or not an ONNX model): ${path}`);
  return model;
}

function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Tensors below this size stay inline: not worth an external reference. */
const EXTERNALIZE_MIN_BYTES = 1024;

/**
 * Turns every inline weight of the decoded `buf` into an external reference to its own bytes in
 * the source file (protobufjs decodes `bytes` fields of a Buffer as views into it).
 */
function referenceSourceWeights(model: ReturnType<typeof decodeModel>, buf: Buffer, fileName: string): void {
  const visit = (g: GraphProto | null | undefined) => {
    for (const t of g?.initializer ?? []) {
      const raw = t.rawData;
      if (!raw || raw.length < EXTERNALIZE_MIN_BYTES || raw.buffer !== buf.buffer) continue;
      t.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: fileName }),
        onnx.StringStringEntryProto.create({ key: 'offset', value: String(raw.byteOffset - buf.byteOffset) }),
        onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
      ];
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.rawData = new Uint8Array(0);
    }
    for (const n of g?.node ?? [])
      for (const a of n.attribute ?? []) {
        visit(a.g);
        a.graphs?.forEach(visit);
      }
  };
  visit(model.graph);
}

/** Source hashes memoised by file identity, so a multi-GB single-file model is not re-read on every load. */
async function sourceHash(srcPath: string, cacheDir: string | null): Promise<string> {
  if (cacheDir === null) return sha256File(srcPath);
  const st = statSync(srcPath);
  const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  const memo = join(cacheDir, 'source-hashes', `${sha256(srcPath).slice(0, 32)}.json`);
  try {
    const m = JSON.parse(readFileSync(memo, 'utf8')) as { id?: string; sha256?: string };
    if (m.id === id && typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256)) return m.sha256;
  } catch {
    // absent or unreadable: hash the file
  }
  const h = await sha256File(srcPath);
  try {
    makeDirs(dirname(memo));
    atomicWrite(memo, JSON.stringify({ id, sha256: h }));
  } catch {
    // an unwritable cache only costs the next load a re-hash
  }
  return h;
}

function readMeta(path: string): Meta | null {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Meta;
    return m && typeof m === 'object' && typeof m.graphSha256 === 'string' && Array.isArray(m.attention) && m.io ? m : null;
  } catch {
    return null;
  }
}

/** Entries of older rewrite versions for the same source are never used again; drop them. */
function dropStaleEntries(root: string, sourceSha: string, keep: string): void {
  try {
    for (const d of readdirSync(root)) {
      if (d === keep) continue;
      const meta = readMeta(join(root, d, 'meta.json'));
      const legacy = d.startsWith(sourceSha.slice(0, 24) + '-v');
      if (legacy || (meta && meta.version !== INSTRUMENT_VERSION && String(meta.key).includes(sourceSha)))
        rmSync(join(root, d), { recursive: true, force: true });
    }
  } catch {
    // best effort
  }
}

export async function instrumentedGraph(
  srcPath: string,
  shape: InstrumentShape,
  cacheDir: string | null = defaultCacheDir(),
  hints: IONameHints = {},
): Promise<InstrumentedGraph> {
  if (!existsSync(srcPath)) throw new RetrievalLensError('NOT_A_MODEL', `ONNX file not found: ${srcPath}`);
  if (statSync(srcPath).size === 0) throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file is empty: ${srcPath}`);
  const weightsDir = dirname(srcPath);
  const sourceSha = await sourceHash(srcPath, cacheDir);
  // Everything that shapes the rewrite is in the key: a wrong config cannot poison the right one's entry.
  const key = JSON.stringify({ v: INSTRUMENT_VERSION, source: sourceSha, file: basename(srcPath), shape, hints });
  const root = join(cacheDir ?? '', 'instrumented');
  const entry = sha256(key).slice(0, 32);
  const dir = join(root, entry);
  const graphPath = join(dir, 'model.onnx');
  const metaPath = join(dir, 'meta.json');
  const meta = cacheDir === null ? null : readMeta(metaPath);
  if (meta && meta.version === INSTRUMENT_VERSION && meta.key === key && existsSync(graphPath)) {
    try {
      if (sha256(readFileSync(graphPath)) === meta.graphSha256) {
        return {
          path: graphPath,
          bytes: null,
          weightsDir,
          sha256: sourceSha,
          fromCache: true,
          attention: meta.attention,
          activationType: meta.activationType,
          io: meta.io,
          graphDtype: meta.graphDtype,
        };
      }
    } catch {
      // unreadable: rebuilt below
    }
  }
  let buf: Buffer;
  try {
    buf = readFileSync(srcPath);
  } catch (e) {
    throw new RetrievalLensError('NOT_A_MODEL', `cannot read ONNX file ${srcPath}: ${(e as Error).message}`);
  }
  const model = decodeModel(srcPath, buf);
  const result = instrumentModel(model, shape, hints);
  referenceSourceWeights(model, buf, basename(srcPath));
  const bytes = onnx.ModelProto.encode(model).finish();
  const fresh: Meta = { version: INSTRUMENT_VERSION, key, graphSha256: sha256(bytes), source: srcPath, ...result };
  const base = {
    weightsDir,
    sha256: sourceSha,
    fromCache: false,
    attention: result.attention,
    activationType: result.activationType,
    io: result.io,
    graphDtype: result.graphDtype,
  };
  if (cacheDir === null) return { ...base, path: null, bytes, cacheWarning: NO_CACHE };
  try {
    rmSync(dir, { recursive: true, force: true });
    makeDirs(dir);
    atomicWrite(graphPath, bytes);
    // The meta file goes last: an entry without it is incomplete and never trusted.
    atomicWrite(metaPath, JSON.stringify(fresh, null, 1));
  } catch (e) {
    return {
      ...base,
      path: null,
      bytes,
      cacheWarning: `cannot write the cache folder ${cacheDir} (${(e as Error).message.split('\n')[0]}); the instrumented graph is kept in memory only (set RETRIEVAL_LENS_CACHE to a writable folder)`,
    };
  }
  dropStaleEntries(root, sourceSha, entry);
  return { ...base, path: graphPath, bytes: null };
}
