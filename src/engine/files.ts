// Picks the ONNX file of a model folder in the transformers.js/Optimum layout:
// onnx/model{suffix}.onnx or onnx/decoder_model_merged{suffix}.onnx, suffix by dtype, plus the
// external-data files that file keeps its weights in.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import { onnx, type GraphProto } from './graph.js';
import { decodeModel } from './cache.js';
import { RetrievalLensError } from '../shared/errors.js';
import { readJson } from './config.js';
import type { IONameHints } from './io.js';
import type { ModelLayout } from './types.js';

/**
 * transformers.js 4.3.1's DEFAULT_DTYPE_SUFFIX_MAPPING (utils/dtypes.js), plus the alias
 * `quantized`. The order is the preference when no dtype is asked for and fp32 is absent:
 * the closest to full precision first.
 */
export const DTYPE_SUFFIX: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
  q2: '_q2',
  q2f16: '_q2f16',
  q1: '_q1',
  q1f16: '_q1f16',
};
const ALIASES: Record<string, string> = { quantized: 'q8' };

/** Base names transformers.js uses for a causal LM's decoder, in order of preference. */
export const ONNX_BASES = ['model', 'decoder_model_merged'];

export interface OnnxFile {
  path: string;
  /** Relative to the model folder, e.g. onnx/model_fp16.onnx. */
  file: string;
  dtype: string;
  /** External-data files the graph reads its tensors from, relative to the model folder (e.g. onnx/model.onnx_data). */
  externalData: string[];
}

/**
 * Canonical dtype name for a user's choice; undefined (and `auto`) mean "pick one".
 * Throws BAD_INPUT for a name transformers.js does not know.
 */
export function normalizeDtype(dtype: string | undefined): string | undefined {
  if (dtype === undefined || dtype === '' || dtype === 'auto') return undefined;
  const d = ALIASES[dtype] ?? dtype;
  if (!(d in DTYPE_SUFFIX)) {
    throw new RetrievalLensError(
      'BAD_INPUT',
      `unknown dtype "${dtype}"; known: ${[...Object.keys(DTYPE_SUFFIX), ...Object.keys(ALIASES)].join(', ')}`,
    );
  }
  return d;
}

/** Candidate files for a dtype, relative to the model folder, in order of preference. */
export function onnxCandidates(dtype: string): string[] {
  const suffix = DTYPE_SUFFIX[dtype];
  return ONNX_BASES.map((base) => `onnx/${base}${suffix}.onnx`);
}

const FILE_DTYPE = new Map<string, string>(
  Object.keys(DTYPE_SUFFIX).flatMap((d) => onnxCandidates(d).map((f) => [posix.basename(f), d] as [string, string])),
);

/** dtypes present in dir/onnx, in the order of DTYPE_SUFFIX. */
export function listDtypes(dir: string): string[] {
  const onnxDir = join(dir, 'onnx');
  if (!existsSync(onnxDir) || !statSync(onnxDir).isDirectory()) return [];
  const found = new Set(
    readdirSync(onnxDir)
      .map((f) => FILE_DTYPE.get(f))
      .filter((d): d is string => Boolean(d)),
  );
  return Object.keys(DTYPE_SUFFIX).filter((d) => found.has(d));
}

type Tensor = NonNullable<GraphProto['initializer']>[number];

/** External data files must be there, and be files: onnxruntime would block on a FIFO or read a device forever. */
function checkExternalData(dir: string, file: string, externalData: string[]): void {
  const missing = externalData.filter((f) => !existsSync(join(dir, f)));
  if (missing.length)
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `${file} keeps its weights in external data files that are missing: ${missing.join(', ')} (in ${dir})`,
    );
  const odd = externalData.filter((f) => !statSync(join(dir, f)).isFile());
  if (odd.length)
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `${file} keeps its weights in external data that are not regular files: ${odd.join(', ')} (in ${dir})`,
    );
}

const externalCache = new Map<string, { size: number; mtimeMs: number; locations: string[] }>();

/**
 * External-data locations of an ONNX file, as written in its tensors (relative to the file's own
 * folder). Reads the whole graph; memoised per file size and mtime since large single-file
 * models would otherwise be decoded on every load.
 */
export function externalDataLocations(onnxPath: string): string[] {
  const st = statSync(onnxPath);
  // Read whole below (and by onnxruntime): a FIFO or a device would block or never end.
  if (!st.isFile()) throw new RetrievalLensError('NOT_A_MODEL', `ONNX file ${onnxPath} is not a regular file (a folder, FIFO or device)`);
  const hit = externalCache.get(onnxPath);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.locations;
  const model = decodeModel(onnxPath);
  const locs = new Set<string>();
  const tensor = (t: Tensor | null | undefined) => {
    if (!t || t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const loc = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (loc) locs.add(loc);
  };
  const graph = (g: GraphProto | null | undefined) => {
    if (!g) return;
    g.initializer?.forEach(tensor);
    for (const s of g.sparseInitializer ?? []) {
      tensor(s.values);
      tensor(s.indices);
    }
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        tensor(a.t);
        a.tensors?.forEach(tensor);
        graph(a.g);
        a.graphs?.forEach(graph);
      }
    }
  };
  graph(model.graph);
  const locations = [...locs].sort();
  externalCache.set(onnxPath, { size: st.size, mtimeMs: st.mtimeMs, locations });
  return locations;
}

/**
 * A location, relative to the model folder, for a tensor location written inside `onnxFile`
 * (itself relative to the model folder). Locations that leave the model folder are refused:
 * they would make a download write, or a load read, outside it.
 */
export function externalDataPath(onnxFile: string, location: string): string {
  const rel = posix.normalize(posix.join(posix.dirname(onnxFile), location.split(sep).join('/')));
  if (isAbsolute(location) || rel.startsWith('../') || rel === '..') {
    throw new RetrievalLensError('CORRUPT_ONNX', `${onnxFile} points its external data outside the model folder ("${location}")`);
  }
  return rel;
}

export function findOnnxFile(dir: string, dtype?: string): OnnxFile {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RetrievalLensError('MODEL_NOT_FOUND', `model folder not found: ${dir}`);
  const want = normalizeDtype(dtype);
  const available = listDtypes(dir);
  if (available.length === 0) {
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `no ONNX decoder in ${join(dir, 'onnx')} (expected onnx/model.onnx or onnx/decoder_model_merged.onnx, optionally with a dtype suffix such as _fp16 or _q4, or an ONNX Runtime GenAI folder with ${GENAI_CONFIG}); available dtypes: none`,
    );
  }
  const chosen = want ?? (available.includes('fp32') ? 'fp32' : available[0]);
  if (!available.includes(chosen)) {
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `the model has no ${chosen} ONNX file (${onnxCandidates(chosen).join(' or ')}); available dtypes: ${available.join(', ')}`,
    );
  }
  const file = onnxCandidates(chosen).find((f) => existsSync(join(dir, f)))!;
  const path = join(dir, file);
  const externalData = externalDataLocations(path).map((loc) => externalDataPath(file, loc));
  checkExternalData(dir, file, externalData);
  return { path, file, dtype: chosen, externalData };
}

/** An ONNX Runtime GenAI folder's decoder: `genai_config.json` names the file (at the folder root) and its IO names. */
export interface GenaiDecoder {
  filename: string;
  hints: IONameHints;
}

export const GENAI_CONFIG = 'genai_config.json';

export function readGenaiDecoder(dir: string): GenaiDecoder | null {
  const path = join(dir, GENAI_CONFIG);
  if (!existsSync(path)) return null;
  const cfg = readJson(path, GENAI_CONFIG);
  const model = (cfg.model ?? {}) as Record<string, unknown>;
  const decoder = (model.decoder ?? {}) as Record<string, unknown>;
  const inputs = (decoder.inputs ?? {}) as Record<string, unknown>;
  const outputs = (decoder.outputs ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const filename = str(decoder.filename) ?? 'model.onnx';
  if (isAbsolute(filename) || posix.normalize(filename.split(sep).join('/')).startsWith('../')) {
    throw new RetrievalLensError('NOT_A_MODEL', `${GENAI_CONFIG} names a decoder outside the model folder ("${filename}")`);
  }
  return {
    filename,
    hints: {
      inputIds: str(inputs.input_ids),
      attentionMask: str(inputs.attention_mask),
      positionIds: str(inputs.position_ids),
      pastKey: str(inputs.past_key_names),
      pastValue: str(inputs.past_value_names),
      logits: str(outputs.logits),
      presentKey: str(outputs.present_key_names),
      presentValue: str(outputs.present_value_names),
    },
  };
}

export interface ModelFiles extends OnnxFile {
  layout: ModelLayout;
  /** Input/output names the folder declares (GenAI), for the graph's signature. */
  hints: IONameHints;
}

/** Model folders one or two levels below `dir` (Phi's GenAI repos nest them, e.g. cpu_and_mobile/cpu-int4-.../). */
export function nestedModels(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      try {
        if (!statSync(p).isDirectory()) continue;
      } catch {
        continue;
      }
      if (existsSync(join(p, GENAI_CONFIG)) || listDtypes(p).length) out.push(p);
      else if (depth < 2) walk(p, depth + 1);
    }
  };
  walk(dir, 1);
  return out.sort();
}

/**
 * The decoder of a model folder in either layout. A GenAI folder holds one variant, so `dtype`
 * applies only to the transformers.js/Optimum layout (it wins when the folder has both).
 */
export function findModelFiles(dir: string, dtype?: string): ModelFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RetrievalLensError('MODEL_NOT_FOUND', `model folder not found: ${dir}`);
  const genai = readGenaiDecoder(dir);
  const wantDtype = normalizeDtype(dtype);
  if (genai && !(wantDtype && listDtypes(dir).length)) {
    const path = join(dir, genai.filename);
    if (!existsSync(path))
      throw new RetrievalLensError('NOT_A_MODEL', `${GENAI_CONFIG} names the decoder ${genai.filename}, which is not in ${dir}`);
    const file = posix.normalize(genai.filename.split(sep).join('/'));
    const externalData = externalDataLocations(path).map((loc) => externalDataPath(file, loc));
    checkExternalData(dir, file, externalData);
    return { path, file, dtype: 'auto', externalData, layout: 'genai', hints: genai.hints };
  }
  if (!listDtypes(dir).length) assertNoNestedModels(dir);
  return { ...findOnnxFile(dir, dtype), layout: 'optimum', hints: {} };
}

/** A folder that holds model folders rather than being one gets a message naming them. */
export function assertNoNestedModels(dir: string): void {
  const nested = nestedModels(dir);
  if (nested.length) {
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `${dir} holds no model itself but ${nested.length} model folder(s) below it; choose one: ${nested
        .slice(0, 6)
        .map((p) => relative(dir, p))
        .join(', ')}${nested.length > 6 ? ', ...' : ''}`,
    );
  }
}
