// Instrumented graphs are cached on disk, keyed by the source file's sha256 and the rewrite's
// version, so a model is parsed and rewritten once, not on every load.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { onnx } from './graph.js';
import { instrumentModel, INSTRUMENT_VERSION } from './instrument.js';
import { RetrievalLensError } from './errors.js';
import type { AttentionNodeInfo } from './types.js';

export function defaultCacheDir(): string {
  return process.env.RETRIEVAL_LENS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'retrieval-lens');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface InstrumentedGraph {
  path: string;
  sha256: string;
  fromCache: boolean;
  attention: AttentionNodeInfo[];
  activationType: number;
}

interface Meta {
  version: number;
  source: string;
  attention: AttentionNodeInfo[];
  activationType: number;
}

/** Decodes an ONNX file, turning protobuf failures into a message a user can act on. */
export function decodeModel(path: string) {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new RetrievalLensError('NOT_A_MODEL', `cannot read ONNX file ${path}: ${(e as Error).message}`);
  }
  if (buf.length === 0) throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file is empty: ${path}`);
  let model;
  try {
    model = onnx.ModelProto.decode(buf);
  } catch (e) {
    throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file is corrupt or truncated (${(e as Error).message}): ${path}`);
  }
  if (!model.graph || !model.graph.node?.length) throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file has no graph (corrupt, truncated or not an ONNX model): ${path}`);
  return model;
}

function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** External-data files sit beside the ONNX file; the copy needs them under the same relative names. */
function linkExternalData(srcDir: string, outDir: string, locations: string[]): void {
  for (const loc of locations) {
    const from = resolve(srcDir, loc);
    const to = join(outDir, loc);
    if (existsSync(to)) continue;
    mkdirSync(dirname(to), { recursive: true });
    try {
      symlinkSync(from, to);
    } catch {
      copyFileSync(from, to); // Windows without symlink rights
    }
  }
}

function externalLocations(model: ReturnType<typeof decodeModel>): string[] {
  const locs = new Set<string>();
  const visit = (g: typeof model.graph) => {
    for (const t of g?.initializer ?? []) {
      if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
      const loc = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
      if (loc) locs.add(loc);
    }
    for (const n of g?.node ?? []) for (const a of n.attribute ?? []) if (a.g) visit(a.g);
  };
  visit(model.graph);
  return [...locs];
}

export async function instrumentedGraph(srcPath: string, layers: number, heads: number, cacheDir = defaultCacheDir()): Promise<InstrumentedGraph> {
  if (!existsSync(srcPath)) throw new RetrievalLensError('NOT_A_MODEL', `ONNX file not found: ${srcPath}`);
  if (statSync(srcPath).size === 0) throw new RetrievalLensError('CORRUPT_ONNX', `ONNX file is empty: ${srcPath}`);
  const sha256 = await sha256File(srcPath);
  const outDir = join(cacheDir, 'instrumented', `${sha256.slice(0, 24)}-v${INSTRUMENT_VERSION}`);
  const outPath = join(outDir, basename(srcPath));
  const metaPath = join(outDir, 'retrieval-lens-meta.json');
  if (existsSync(outPath) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Meta;
    if (meta.version === INSTRUMENT_VERSION && meta.attention.length === layers) {
      return { path: outPath, sha256, fromCache: true, attention: meta.attention, activationType: meta.activationType };
    }
  }
  const model = decodeModel(srcPath);
  const result = instrumentModel(model, layers, heads);
  mkdirSync(outDir, { recursive: true });
  linkExternalData(dirname(srcPath), outDir, externalLocations(model));
  atomicWrite(outPath, onnx.ModelProto.encode(model).finish());
  const meta: Meta = { version: INSTRUMENT_VERSION, source: srcPath, attention: result.attention, activationType: result.activationType };
  atomicWrite(metaPath, JSON.stringify(meta, null, 1));
  return { path: outPath, sha256, fromCache: false, attention: result.attention, activationType: result.activationType };
}
