// Finds each layer's attention in a decoder graph, in any of the forms exporters emit:
//   plain   scores = MatMul(Q, K^T) -> (scale, softcap, mask, Cast) -> Softmax -> (Cast, NaN guard) -> MatMul(., V)
//   com.microsoft.GroupQueryAttention  (ONNX Runtime GenAI / AI Toolkit models)
//   com.microsoft.MultiHeadAttention   ("(MHA)" optimized exports)
//   Attention                          (ONNX opset >= 23, torch.onnx dynamo exports)
// Other fused ops (com.microsoft.Attention with packed weights, ...) never expose their
// probabilities; they are refused with one line naming the op.
import {
  FUSED_ATTENTION_OPS,
  attrNumber,
  indexGraph,
  isDefaultDomain,
  qualifiedOp,
  subgraphs,
  type GraphIndex,
  type GraphProto,
  type NodeProto,
} from './graph.js';
import { RetrievalLensError } from '../shared/errors.js';
import type { AttentionForm } from './types.js';

export interface PlainSite {
  form: 'plain';
  softmax: NodeProto;
  /** MatMul(probs, V): its output is the head outputs before they are merged. */
  valueMatMul: NodeProto;
  /** MatMul(Q, K^T): raw scores, before scaling and masking. */
  scoreMatMul: NodeProto;
  /** The probabilities pass through Casts before the value MatMul (Softmax computed in fp32 in an fp16 graph). */
  casts: boolean;
}

export interface FusedSite {
  form: Exclude<AttentionForm, 'plain'>;
  node: NodeProto;
}

export type AttentionSite = PlainSite | FusedSite;

export const SUPPORTED_FORMS =
  'plain MatMul/Softmax attention, com.microsoft.GroupQueryAttention, com.microsoft.MultiHeadAttention and the ONNX Attention op (opset 23+)';

/** Elementwise ops that may sit between the score MatMul and the Softmax. */
const SCORE_PATH_OPS = new Set(['Div', 'Mul', 'Add', 'Sub', 'Where', 'Cast', 'Tanh', 'Max', 'Min', 'Clip']);
/** Ops that pass the probabilities on unchanged (inference) between Softmax and the value MatMul. */
const PROBS_PATH_OPS = new Set(['Cast', 'Where', 'Identity', 'Dropout']);

/** The supported fused form of a node, or null when it is not one. */
export function fusedForm(n: NodeProto): FusedSite['form'] | null {
  if (n.opType === 'GroupQueryAttention' && n.domain === 'com.microsoft') return 'GroupQueryAttention';
  if (n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft') return 'MultiHeadAttention';
  if (n.opType === 'Attention' && isDefaultDomain(n)) return 'Attention';
  return null;
}

function refuse(n: NodeProto, where: string, why: string): never {
  throw new RetrievalLensError(
    'FUSED_ATTENTION',
    `the ONNX ${where} uses the attention op ${qualifiedOp(n)} (node "${n.name}"), ${why}; supported: ${SUPPORTED_FORMS}`,
  );
}

/** Throws for fused attention ops whose probabilities cannot be read, anywhere in the graph. */
export function assertReadableAttention(g: GraphProto, where = 'graph'): void {
  for (const n of g.node ?? []) {
    const form = fusedForm(n);
    if (!form && FUSED_ATTENTION_OPS.has(n.opType ?? '')) refuse(n, where, 'which never exposes its attention probabilities');
    if (form === 'GroupQueryAttention') {
      if (attrNumber(n, 'kv_cache_bit_width') || (n.input?.[12] ?? '') || (n.input?.[13] ?? ''))
        refuse(n, where, 'with a quantized KV cache, which is not supported');
      if (attrNumber(n, 'sliding_window_cache'))
        refuse(n, where, 'with a window-sized KV cache (sliding_window_cache=1), whose positions cannot be told apart');
    }
    for (const sg of subgraphs(n)) assertReadableAttention(sg, `subgraph of node "${n.name}"`);
  }
}

function isActivation(name: string, idx: GraphIndex): boolean {
  return !idx.initializers.has(name) && idx.producer.get(name)?.opType !== 'Constant';
}

function findValueMatMul(softmax: NodeProto, idx: GraphIndex): { mm: NodeProto; casts: boolean } | null {
  let t = softmax.output![0];
  let casts = false;
  for (let hops = 0; hops < 4; hops++) {
    const cons = idx.consumers.get(t) ?? [];
    const mm = cons.find((c) => c.opType === 'MatMul' && c.input![0] === t);
    if (mm) return { mm, casts };
    // SDPA-style exports guard fully masked rows: Where(IsNaN(p), 0, p); IsNaN is a side branch.
    const next = cons.find(
      (c) =>
        PROBS_PATH_OPS.has(c.opType ?? '') &&
        (c.opType !== 'Where' || c.input![1] === t || c.input![2] === t) &&
        c.input!.indexOf(t) !== -1,
    );
    if (!next) return null;
    if (next.opType === 'Cast') casts = true;
    t = next.output![0];
  }
  return null;
}

function findScoreMatMul(softmax: NodeProto, idx: GraphIndex): NodeProto | null {
  // Breadth-first backwards through elementwise ops; the first MatMul of two activations is Q.K^T.
  let frontier = [softmax.input![0]];
  const seen = new Set<string>();
  for (let depth = 0; depth < 8 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      if (seen.has(t)) continue;
      seen.add(t);
      const p = idx.producer.get(t);
      if (!p) continue;
      if (p.opType === 'MatMul' && p.input!.every((i) => isActivation(i, idx))) return p;
      if (SCORE_PATH_OPS.has(p.opType ?? '')) next.push(...p.input!.filter((i) => i && isActivation(i, idx)));
    }
    frontier = next;
  }
  return null;
}

function layerFromName(n: NodeProto): number | null {
  const m = /layers?[._/](\d+)|\bh[._](\d+)|blocks?[._](\d+)/.exec(n.name ?? '');
  return m ? Number(m[1] ?? m[2] ?? m[3]) : null;
}

function siteNode(s: AttentionSite): NodeProto {
  return s.form === 'plain' ? s.softmax : s.node;
}

/** Attention sites of one graph, in layer order. */
export function findAttentionSites(g: GraphProto, expectedLayers: number): AttentionSite[] {
  assertReadableAttention(g);
  const idx = indexGraph(g);
  const sites: AttentionSite[] = [];
  for (const n of g.node ?? []) {
    const form = fusedForm(n);
    if (form) {
      sites.push({ form, node: n });
      continue;
    }
    if (n.opType !== 'Softmax') continue;
    const v = findValueMatMul(n, idx);
    const s = findScoreMatMul(n, idx);
    if (v && s) sites.push({ form: 'plain', softmax: n, valueMatMul: v.mm, scoreMatMul: s, casts: v.casts });
  }
  // Graph order is topological, so it is layer order unless names say otherwise.
  const named = sites.map((s) => layerFromName(siteNode(s)));
  if (named.every((l) => l !== null) && new Set(named).size === sites.length) {
    const order = sites.map((s, i) => [named[i] as number, s] as const).sort((a, b) => a[0] - b[0]);
    sites.splice(0, sites.length, ...order.map((o) => o[1]));
  }
  if (sites.length !== expectedLayers) {
    throw new RetrievalLensError(
      'ATTENTION_NOT_FOUND',
      `found ${sites.length} attention sites but the model config says ${expectedLayers} layers; ` +
        `this graph layout is not supported (supported: ${SUPPORTED_FORMS})`,
    );
  }
  return sites;
}

function hasAttention(g: GraphProto): boolean {
  return (g.node ?? []).some((n) => n.opType === 'Softmax' || fusedForm(n) !== null);
}

/** The graphs whose nodes hold the attention: the main graph, or the branches of an If (merged decoders). */
export function attentionGraphs(g: GraphProto): { graphs: GraphProto[]; ifNode: NodeProto | null } {
  if (hasAttention(g)) return { graphs: [g], ifNode: null };
  for (const n of g.node ?? []) {
    if (n.opType !== 'If') continue;
    const branches = subgraphs(n);
    if (branches.length === 2 && branches.every(hasAttention)) return { graphs: branches, ifNode: n };
  }
  return { graphs: [g], ifNode: null };
}

/** Why the paper's uniform mask (zeroed query) would not give uniform attention at a site, or null. */
export function uniformMaskCaveat(s: AttentionSite): string | null {
  if (s.form !== 'GroupQueryAttention') return null;
  const n = s.node;
  if (attrNumber(n, 'smooth_softmax')) return 'its GroupQueryAttention uses smooth_softmax (an attention sink keeps part of the mass)';
  if (n.input?.[11]) return 'its GroupQueryAttention has a head_sink input (an attention sink keeps part of the mass)';
  if (n.input?.[10]) return 'its GroupQueryAttention adds an attention_bias to the scores';
  return null;
}
