// Finds each layer's attention in a decomposed (MatMul/Softmax) decoder graph:
//   scores = MatMul(Q, K^T)   [batch, heads, q, kvLen]
//   ... scale, + causal mask, (Cast) ...
//   probs  = Softmax(...)     [batch, heads, q, kvLen]
//   out    = MatMul(probs, V) [batch, heads, q, headDim]
import { FUSED_ATTENTION_OPS, subgraphs, indexGraph, type GraphProto, type NodeProto, type GraphIndex } from './graph.js';
import { RetrievalLensError } from './errors.js';

export interface AttentionSite {
  softmax: NodeProto;
  /** MatMul(probs, V): its output is the head outputs before they are merged. */
  valueMatMul: NodeProto;
  /** MatMul(Q, K^T): raw scores, before scaling and masking. */
  scoreMatMul: NodeProto;
  casts: boolean;
}

/** Elementwise ops that may sit between the score MatMul and the Softmax. */
const SCORE_PATH_OPS = new Set(['Div', 'Mul', 'Add', 'Sub', 'Where', 'Cast', 'Tanh', 'Max', 'Min', 'Clip']);

export function assertNoFusedAttention(g: GraphProto, where = 'graph'): void {
  for (const n of g.node ?? []) {
    if (FUSED_ATTENTION_OPS.has(n.opType ?? '')) {
      throw new RetrievalLensError(
        'FUSED_ATTENTION',
        `the ONNX ${where} uses the fused attention op ${n.domain ? n.domain + '.' : ''}${n.opType} (node "${n.name}"), ` +
          'whose attention probabilities are never a tensor, so they cannot be exposed or masked. ' +
          'Export the model without fused attention (plain MatMul/Softmax), e.g. an fp32 Optimum export without onnxruntime graph optimisation.',
      );
    }
    for (const sg of subgraphs(n)) assertNoFusedAttention(sg, `subgraph of node "${n.name}"`);
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
    const cast = cons.find((c) => c.opType === 'Cast');
    if (!cast) return null;
    casts = true;
    t = cast.output![0];
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

/** Attention sites of one graph, in layer order. */
export function findAttentionSites(g: GraphProto, expectedLayers: number): AttentionSite[] {
  const idx = indexGraph(g);
  const sites: AttentionSite[] = [];
  for (const n of g.node ?? []) {
    if (n.opType !== 'Softmax') continue;
    const v = findValueMatMul(n, idx);
    const s = findScoreMatMul(n, idx);
    if (v && s) sites.push({ softmax: n, valueMatMul: v.mm, scoreMatMul: s, casts: v.casts });
  }
  // Graph order is topological, so it is layer order unless names say otherwise.
  const named = sites.map((s) => layerFromName(s.softmax));
  if (named.every((l) => l !== null) && new Set(named).size === sites.length) {
    const order = sites.map((s, i) => [named[i] as number, s] as const).sort((a, b) => a[0] - b[0]);
    sites.splice(0, sites.length, ...order.map((o) => o[1]));
  }
  if (sites.length !== expectedLayers) {
    throw new RetrievalLensError(
      'ATTENTION_NOT_FOUND',
      `found ${sites.length} attention Softmax nodes (Softmax -> MatMul with V, fed by MatMul of Q and K) but config.json says ${expectedLayers} layers; ` +
        'this graph layout is not supported',
    );
  }
  return sites;
}

/** The graph whose nodes hold the attention: the main graph, or the branches of an If (merged decoders). */
export function attentionGraphs(g: GraphProto): { graphs: GraphProto[]; ifNode: NodeProto | null } {
  if ((g.node ?? []).some((n) => n.opType === 'Softmax')) return { graphs: [g], ifNode: null };
  for (const n of g.node ?? []) {
    if (n.opType !== 'If') continue;
    const branches = subgraphs(n);
    if (branches.length === 2 && branches.every((b) => (b.node ?? []).some((x) => x.opType === 'Softmax'))) return { graphs: branches, ifNode: n };
  }
  return { graphs: [g], ifNode: null };
}
