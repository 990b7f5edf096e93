// Graph simplifications the instrumentation pass applies to plain attention, for speed only.
//
// Grouped-query attention without the repeat: exporters write GQA as repeat_kv (Unsqueeze ->
// Expand -> Reshape of K and V to one copy per query head) followed by ordinary MatMuls. Every
// decoding step then copies the whole KV cache heads/kvHeads times (at 8K tokens on a 0.5B model,
// ~1.4 GB per step: more time than reading all the weights). Query heads are ordered so that heads
// g*G .. g*G+G-1 share KV head g (G = heads/kvHeads), so the same product is
//   Q  [B, N, S, D] -> [B, KV, G*S, D]        (a free reshape)
//   QK = Q' @ K^T   [B, KV, G*S, T] -> [B, N, S, T]
//   P  [B, N, S, T] -> [B, KV, G*S, T];  PV = P' @ V  [B, KV, G*S, D] -> [B, N, S, D]
// with K and V read once per KV head. Sites whose repeat does not look like this are left alone.
import { indexGraph, insertAfter, insertBefore, int64Tensor, node, type GraphIndex, type GraphProto, type NodeProto } from './graph.js';
import type { PlainSite } from './attention.js';

/** Ops a repeat_kv chain is made of (after the source [B, KV, T, D] tensor). */
const REPEAT_OPS = new Set(['Unsqueeze', 'Expand', 'Reshape', 'Tile']);

export interface Unrepeated {
  /** The KV tensor before the repeat, [B, KV, T, D]. */
  source: string;
  /** Whether the chain ended in a [0, 1, 3, 2] Transpose (K^T). */
  transposed: boolean;
  /** A scalar constant the keys were multiplied by (SDPA-style exports scale Q and K by sqrt(scale) each), or null. */
  scale: string | null;
  /** Whether the chain repeats the KV heads (an Expand or Tile). */
  repeated: boolean;
  /** Repeat-chain ops walked through (0: the operand is the source, up to a Transpose and a scale). */
  repeatOps: number;
}

function perm(n: NodeProto): number[] {
  const a = (n.attribute ?? []).find((x) => x.name === 'perm');
  return (a?.ints ?? []).map(Number);
}

/** Whether `t` is a one-element constant (initializer or Constant node). */
function scalarConstant(t: string, idx: GraphIndex, g: GraphProto): boolean {
  if (idx.initializers.has(t)) {
    const init = (g.initializer ?? []).find((i) => i.name === t);
    return (init?.dims ?? []).reduce((a, d) => a * Number(d), 1) === 1;
  }
  const c = idx.producer.get(t);
  if (c?.opType !== 'Constant') return false;
  const v = (c.attribute ?? []).find((a) => a.name === 'value' || a.name === 'value_float');
  return Boolean(v && (v.name === 'value_float' || (v.t?.dims ?? []).reduce((a, d) => a * Number(d), 1) === 1));
}

/**
 * Walks back from a MatMul operand through an optional scalar Mul, an optional K^T Transpose (with
 * the Mul on either side of it) and a repeat chain.
 */
export function unrepeat(t: string, idx: GraphIndex, allowTranspose: boolean, g: GraphProto): Unrepeated {
  let transposed = false;
  let scale: string | null = null;
  let p = idx.producer.get(t);
  for (let hops = 0; hops < 3 && p; hops++) {
    if (allowTranspose && !transposed && p.opType === 'Transpose' && perm(p).join() === '0,1,3,2') {
      transposed = true;
      t = p.input![0];
    } else if (!scale && p.opType === 'Mul' && p.input!.length === 2) {
      const k = p.input!.findIndex((i) => scalarConstant(i, idx, g));
      if (k < 0) break;
      scale = p.input![k];
      t = p.input![1 - k];
    } else break;
    p = idx.producer.get(t);
  }
  let repeated = false;
  let repeatOps = 0;
  for (; repeatOps < 6 && p && REPEAT_OPS.has(p.opType ?? ''); repeatOps++) {
    if (p.opType === 'Expand' || p.opType === 'Tile') repeated = true;
    t = p.input![0];
    p = idx.producer.get(t);
  }
  return { source: t, transposed, scale, repeated, repeatOps };
}

/** Drops nodes whose outputs nobody reads (the orphaned repeat chains and the shape arithmetic that fed them). */
export function dropDeadNodes(g: GraphProto): void {
  const candidates = new Set(g.node ?? []);
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name));
  let changed = true;
  while (changed) {
    changed = false;
    const used = new Set<string>();
    for (const n of g.node ?? []) for (const i of n.input ?? []) used.add(i);
    // Subgraphs may read outer tensors: keep anything a subgraph names.
    const visit = (sg: GraphProto | null | undefined) => {
      for (const n of sg?.node ?? []) {
        for (const i of n.input ?? []) used.add(i);
        for (const a of n.attribute ?? []) {
          visit(a.g);
          a.graphs?.forEach(visit);
        }
      }
    };
    for (const n of g.node ?? [])
      for (const a of n.attribute ?? []) {
        visit(a.g);
        a.graphs?.forEach(visit);
      }
    for (const n of [...candidates]) {
      if ((n.output ?? []).every((o) => !o || (!used.has(o) && !graphOutputs.has(o)))) {
        g.node!.splice(g.node!.indexOf(n), 1);
        candidates.delete(n);
        changed = true;
      }
    }
  }
}

/**
 * Rewrites the score and value MatMuls of each site to grouped form when both operands come from
 * a repeat of a [B, kvHeads, T, D] cache. Returns how many sites were rewritten; the orphaned
 * repeat chains are left for dropDeadNodes once the graph's outputs are final.
 */
export function groupQueryMatMuls(g: GraphProto, sites: PlainSite[], heads: number, kvHeads: number, tag: string): number {
  if (kvHeads >= heads || heads % kvHeads !== 0) return 0;
  const idx = indexGraph(g);
  let rewritten = 0;
  sites.forEach((s, l) => {
    const k = unrepeat(s.scoreMatMul.input![1], idx, true, g);
    const v = unrepeat(s.valueMatMul.input![1], idx, false, g);
    if (!k.repeated || !k.transposed || !v.repeated || v.scale) return;
    const t = (x: string) => `retrieval_lens/${tag}L${l}/gqa_${x}`;
    g.initializer!.push(int64Tensor(t('grouped'), [0, kvHeads, -1, 0]), int64Tensor(t('ungrouped'), [0, heads, -1, 0]));
    // Scores: Reshape(Q) @ Transpose(K) -> Reshape back to [B, N, S, T] under the original name.
    // A scalar on the keys moves to the queries: (Q s) (K s)^T = (Q s s) K^T.
    const q = s.scoreMatMul.input![0];
    const scores = s.scoreMatMul.output![0];
    const before = [
      node('Reshape', [q, t('grouped')], [t('q')], t('q')), //                  [B, KV, G*S, D]
      node('Transpose', [k.source], [t('kt')], t('kt'), { perm: [0, 1, 3, 2] }), // [B, KV, D, T]
    ];
    if (k.scale) before.push(node('Mul', [t('q'), k.scale], [t('q_scaled')], t('q_scaled')));
    insertBefore(g, s.scoreMatMul, before);
    s.scoreMatMul.input = [k.scale ? t('q_scaled') : t('q'), t('kt')];
    s.scoreMatMul.output = [t('scores')]; //                                   [B, KV, G*S, T]
    insertAfter(g, s.scoreMatMul, [node('Reshape', [t('scores'), t('ungrouped')], [scores], t('scores_n'))]);
    // Values: Reshape(P) @ V -> Reshape back to [B, N, S, D].
    const probs = s.valueMatMul.input![0];
    const out = s.valueMatMul.output![0];
    insertBefore(g, s.valueMatMul, [node('Reshape', [probs, t('grouped')], [t('p')], t('p'))]);
    s.valueMatMul.input = [t('p'), v.source];
    s.valueMatMul.output = [t('out')]; //                                      [B, KV, G*S, D]
    insertAfter(g, s.valueMatMul, [node('Reshape', [t('out'), t('ungrouped')], [out], t('out_n'))]);
    rewritten++;
  });
  return rewritten;
}

/** Elementwise ops exporters put between the LM head and the logits (bias, final softcap, casts). */
const LOGITS_PATH_OPS = new Set(['Add', 'Mul', 'Div', 'Tanh', 'Cast']);

/**
 * Only the last position's logits are ever read: slice the hidden state to its last row before the
 * LM head, so a prefill chunk of C rows does not compute C x vocab logits (on a 150K vocabulary
 * that is as much work as a quarter of the model). Returns false when the head is not found.
 */
export function lastRowLogits(g: GraphProto, logits: string): boolean {
  const idx = indexGraph(g);
  let t = logits;
  for (let hops = 0; hops < 6; hops++) {
    const p = idx.producer.get(t);
    if (!p) return false;
    if (p.opType === 'MatMul' || p.opType === 'MatMulNBits' || (p.opType === 'FusedMatMul' && p.domain === 'com.microsoft')) {
      const hidden = p.input![0];
      const sliced = 'retrieval_lens/lm_head/last_row';
      g.initializer!.push(
        int64Tensor('retrieval_lens/lm_head/start', [-1]),
        int64Tensor('retrieval_lens/lm_head/end', [2 ** 53 - 1]),
        int64Tensor('retrieval_lens/lm_head/axis', [-2]),
      );
      g.node!.splice(
        g.node!.indexOf(p),
        0,
        node(
          'Slice',
          [hidden, 'retrieval_lens/lm_head/start', 'retrieval_lens/lm_head/end', 'retrieval_lens/lm_head/axis'],
          [sliced],
          'retrieval_lens/lm_head/slice',
        ),
      );
      p.input![0] = sliced;
      return true;
    }
    if (!LOGITS_PATH_OPS.has(p.opType ?? '')) return false;
    // Follow the activation operand (the other is a constant bias or scale).
    const next = p.input!.find((i) => i && !idx.initializers.has(i) && idx.producer.get(i)?.opType !== 'Constant');
    if (!next) return false;
    t = next;
  }
  return false;
}
