// Picks the ONNX file of a model folder in the transformers.js/Optimum layout:
// onnx/model{suffix}.onnx or onnx/decoder_model_merged{suffix}.onnx, suffix by dtype.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RetrievalLensError } from './errors.js';

/** transformers.js's dtype -> file suffix mapping (DEFAULT_DTYPE_SUFFIX_MAPPING), plus aliases. */
export const DTYPE_SUFFIX: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  quantized: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

const BASES = ['model', 'decoder_model_merged'];

export interface OnnxFile {
  path: string;
  /** Relative to the model folder, e.g. onnx/model_fp16.onnx. */
  file: string;
  dtype: string;
}

function dtypeOf(name: string): { base: string; dtype: string } | null {
  for (const base of BASES) {
    for (const [dtype, suffix] of Object.entries(DTYPE_SUFFIX)) {
      if (name === `${base}${suffix}.onnx`) return { base, dtype: dtype === 'quantized' ? 'q8' : dtype };
    }
  }
  return null;
}

/** dtypes present in dir/onnx, in the order of DTYPE_SUFFIX. */
export function listDtypes(dir: string): string[] {
  const onnxDir = join(dir, 'onnx');
  if (!existsSync(onnxDir)) return [];
  const found = new Set(readdirSync(onnxDir).map((f) => dtypeOf(f)?.dtype).filter((d): d is string => Boolean(d)));
  return Object.keys(DTYPE_SUFFIX).filter((d) => found.has(d));
}

export function findOnnxFile(dir: string, dtype?: string): OnnxFile {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RetrievalLensError('MODEL_NOT_FOUND', `model folder not found: ${dir}`);
  const available = listDtypes(dir);
  if (available.length === 0) {
    throw new RetrievalLensError('NOT_A_MODEL', `no ONNX decoder in ${join(dir, 'onnx')} (expected onnx/model.onnx or onnx/decoder_model_merged.onnx, optionally with a dtype suffix such as _fp16 or _q4)`);
  }
  const want = dtype ?? (available.includes('fp32') ? 'fp32' : available[0]);
  const suffix = DTYPE_SUFFIX[want];
  if (suffix === undefined) throw new RetrievalLensError('BAD_INPUT', `unknown dtype "${want}"; known: ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  for (const base of BASES) {
    const file = `onnx/${base}${suffix}.onnx`;
    if (existsSync(join(dir, file))) return { path: join(dir, file), file, dtype: want === 'quantized' ? 'q8' : want };
  }
  throw new RetrievalLensError('NOT_A_MODEL', `the model has no ${want} ONNX file; available dtypes: ${available.join(', ')}`);
}
