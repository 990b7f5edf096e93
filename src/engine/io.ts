// The decoder's input/output signature, read from the graph: which names carry the tokens, the
// mask, the positions and each layer's KV cache, and the cache's shape and element type. Optimum
// exports name the cache past_key_values.{l}.key|value / present.{l}.key|value; ONNX Runtime GenAI
// folders name it in genai_config.json (the same names by default); both keep it [batch, kvHeads, past, headDim].
import { DT, elemTypeOf, type GraphProto } from './graph.js';
import { RetrievalLensError } from '../shared/errors.js';

export interface DecoderIO {
  inputIds: string;
  attentionMask: string | null;
  /** int64 or int32, as the graph declares attention_mask. */
  attentionMaskType: 'int64' | 'int32';
  positionIds: string | null;
  /** Merged decoders pick their branch with this flag. */
  useCacheBranch: string | null;
  /** num_logits_to_keep / logits_to_keep: fed 1, since only the last position's logits are read. */
  logitsToKeep: string | null;
  logits: string;
  /** Per layer: [past key, past value] input names and [present key, present value] output names. */
  past: [string, string][];
  present: [string, string][];
  /** From the past key input's shape when it is static, else null (the config then decides). */
  kvHeads: number | null;
  headDim: number | null;
  kvType: 'float32' | 'float16';
  logitsType: 'float32' | 'float16';
}

/** Name templates from genai_config.json, e.g. "past_key_values.%d.key". */
export interface IONameHints {
  inputIds?: string;
  attentionMask?: string;
  positionIds?: string;
  pastKey?: string;
  pastValue?: string;
  presentKey?: string;
  presentValue?: string;
  logits?: string;
}

const PAST = /^past(?:_key_values)?[._]?(\d+)[._](key|value)$|^past_(key|value)s?[._](\d+)$/;
const PRESENT = /^present(?:_key_values)?[._]?(\d+)[._](key|value)$|^present_(key|value)s?[._](\d+)$/;

function layerKind(name: string, re: RegExp): [number, 'key' | 'value'] | null {
  const m = re.exec(name);
  if (!m) return null;
  return m[1] !== undefined ? [Number(m[1]), m[2] as 'key' | 'value'] : [Number(m[4]), m[3] as 'key' | 'value'];
}

function fromTemplate(template: string | undefined, names: Set<string>, layers: number): string[] | null {
  if (!template || !template.includes('%d')) return null;
  const out = Array.from({ length: layers }, (_, l) => template.replace('%d', String(l)));
  return out.every((n) => names.has(n)) ? out : null;
}

function pairs(
  names: string[],
  re: RegExp,
  keyT: string | undefined,
  valueT: string | undefined,
  layers: number,
  what: string,
): [string, string][] {
  const set = new Set(names);
  const k = fromTemplate(keyT, set, layers);
  const v = fromTemplate(valueT, set, layers);
  if (k && v) return k.map((x, l) => [x, v[l]]);
  const found = new Map<number, Partial<Record<'key' | 'value', string>>>();
  for (const n of names) {
    const lk = layerKind(n, re);
    if (!lk) continue;
    const e = found.get(lk[0]) ?? {};
    e[lk[1]] = n;
    found.set(lk[0], e);
  }
  const out: [string, string][] = [];
  for (let l = 0; l < layers; l++) {
    const e = found.get(l);
    if (!e?.key || !e.value) {
      throw new RetrievalLensError(
        'NOT_A_MODEL',
        found.size === 0
          ? `the ONNX graph has no KV-cache ${what} (e.g. past_key_values.0.key); a decoder exported with its cache (transformers.js/Optimum or ONNX Runtime GenAI layout) is needed`
          : `the ONNX graph has KV-cache ${what} for ${found.size} layers but the model config says ${layers}`,
      );
    }
    out.push([e.key, e.value]);
  }
  if (found.size > layers)
    throw new RetrievalLensError(
      'CONFIG_MISMATCH',
      `the ONNX graph has KV-cache ${what} for ${found.size} layers but the model config says ${layers}`,
    );
  return out;
}

function floatKind(t: number | undefined, what: string): 'float32' | 'float16' {
  if (t === undefined || t === DT.FLOAT) return 'float32';
  if (t === DT.FLOAT16) return 'float16';
  throw new RetrievalLensError(
    'UNSUPPORTED_ARCHITECTURE',
    `the graph's ${what} has element type ${DT[t] ?? t}; float32 and float16 are supported`,
  );
}

export function describeIO(g: GraphProto, layers: number, hints: IONameHints = {}): DecoderIO {
  const inputs = (g.input ?? []).filter((i) => i.name).map((i) => i.name!);
  const outputs = (g.output ?? []).map((o) => o.name ?? '');
  const has = (n: string | undefined) => (n && inputs.includes(n) ? n : null);
  const inputIds = has(hints.inputIds) ?? has('input_ids');
  if (!inputIds)
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `the ONNX graph has no "input_ids" input (inputs: ${inputs.slice(0, 8).join(', ')}); a causal LM decoder is needed`,
    );
  const logits = [hints.logits, 'logits'].find((n) => n && outputs.includes(n));
  if (!logits)
    throw new RetrievalLensError(
      'NOT_A_MODEL',
      `the ONNX graph has no "logits" output (outputs: ${outputs.slice(0, 8).join(', ')}); a causal LM decoder is needed`,
    );
  const past = pairs(inputs, PAST, hints.pastKey, hints.pastValue, layers, 'inputs');
  const present = pairs(outputs, PRESENT, hints.presentKey, hints.presentValue, layers, 'outputs');
  const info = (name: string) => (g.input ?? []).find((i) => i.name === name);
  const dims = info(past[0][0])?.type?.tensorType?.shape?.dim ?? [];
  const staticDim = (i: number) => {
    const d = dims[i]?.dimValue;
    return d !== undefined && d !== null && Number(d) > 0 ? Number(d) : null;
  };
  const attentionMask = has(hints.attentionMask) ?? has('attention_mask');
  const maskType = attentionMask ? elemTypeOf(info(attentionMask) ?? undefined) : DT.INT64;
  const logitsInfo = (g.output ?? []).find((o) => o.name === logits);
  return {
    inputIds,
    attentionMask,
    attentionMaskType: maskType === DT.INT32 ? 'int32' : 'int64',
    positionIds: has(hints.positionIds) ?? has('position_ids'),
    useCacheBranch: has('use_cache_branch'),
    logitsToKeep: has('num_logits_to_keep') ?? has('logits_to_keep'),
    logits,
    past,
    present,
    kvHeads: dims.length === 4 ? staticDim(1) : null,
    headDim: dims.length === 4 ? staticDim(3) : null,
    kvType: floatKind(elemTypeOf(info(past[0][0]) ?? undefined), 'KV cache'),
    logitsType: floatKind(elemTypeOf(logitsInfo ?? undefined), 'logits output'),
  };
}
