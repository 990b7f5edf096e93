// Plain attention (Optimum / torch exports) rewritten to read the KV cache where it lies and hand
// back only the new positions, as gqaInPlace.ts does for GroupQueryAttention. Why: such an export
// writes its present as Concat(past, new), so every step copies the whole cache into a fresh
// output that onnxruntime-node then copies again into JS memory; at 32K tokens on a 0.5B model
// that was three 800 MB caches and two thirds of a decoding step.
//
// The runner's contract is the GroupQueryAttention rewrite's (kv.ts, mode 'append'):
//   in   past key/value [batch, kvHeads, cap, headDim], row b's positions [0, past_b) valid;
//        attention_mask [batch, T] with row b's ones at [0, past_b + S) (right padding)
//   out  present key/value = the S new positions only, [batch, kvHeads, S, headDim]
// The export's own mask is kept. It is fed a mask over the columns it sees, [batch, cap + S]: row
// b's cached positions, zeros for the unused columns [past_b, cap), ones for the new ones. An
// unused column is then left padding in the middle of the row, which every export masks; its
// causal mask compares column cap + s with key column j, which gives what positions would.
// A sliding window compares columns as positions, so windowed configs keep the concatenation.
// Positions come from position_ids (fed by the runner) or from the mask's running count, which
// skips the unused columns.
//
// Per layer, for a decoding step: scores = [Q.Kpast^T | Q.Knew^T] (FusedMatMul reads the cache
// transposed where it lies), output = P[:, :cap].Vpast + P[:, cap:].Vnew; a prefill chunk joins
// the cache and the new keys and values first. The exposed rows are laid out by position.
import {
  DT,
  NAME_PREFIX,
  ifNode,
  indexGraph,
  int64Tensor,
  node,
  onnx,
  type GraphIndex,
  type GraphProto,
  type ModelProto,
  type NodeProto,
} from './graph.js';
import { NEW_POSITIONS_DIM, addShared } from './gqaInPlace.js';
import { unrepeat } from './simplify.js';
import type { PlainSite } from './attention.js';
import type { DecoderIO } from './io.js';

const P = NAME_PREFIX + 'plain/';
const G = NAME_PREFIX + 'gqa/'; // constants addShared provides

/** A layer's cache concatenation: Concat(past, new) -> present. */
interface PresentConcat {
  node: NodeProto;
  past: string;
  fresh: string;
  present: string;
}

/** The graph-wide tensors every rewritten site reads (from the graph inputs alone). */
export interface Holes {
  /** [batch, 1] int64: positions each row already holds. */
  pastB1: string;
  /** int64 scalars: new tokens, cache columns, the fed mask's width. */
  S: string;
  cap: string;
  T: string;
  /** [batch, 1, 1, cap + S] int64: the position each score column stands for. */
  columnPositions: string;
  /** bool scalar: more rows than kvHeads x headDim / heads, so keys and values are joined. */
  join: string;
  /** int64 [2]: [cap, S], where the probabilities split into cached and new columns. */
  splitAt: string;
}

/** The Concat writing `t` as a present output from a past input, or null. */
function presentConcat(t: string, idx: GraphIndex, io: DecoderIO): PresentConcat | null {
  const n = idx.producer.get(t);
  const axis = (n?.attribute ?? []).find((a) => a.name === 'axis');
  if (n?.opType !== 'Concat' || n.input?.length !== 2 || !axis || ![2, -2].includes(Number(axis.i))) return null;
  if (!io.present.flat().includes(t)) return null;
  // Some exports copy the past through a one-input Concat first.
  let past = n.input[0];
  for (
    let p = idx.producer.get(past);
    p && (p.opType === 'Identity' || (p.opType === 'Concat' && p.input?.length === 1));
    p = idx.producer.get(past)
  )
    past = p.input![0];
  if (!io.past.flat().includes(past)) return null;
  return { node: n, past, fresh: n.input[1], present: t };
}

/** The key and value concatenations feeding a site's two products, or why not. */
function siteConcats(
  g: GraphProto,
  s: PlainSite,
  idx: GraphIndex,
  io: DecoderIO,
  grouped: boolean,
): { k: PresentConcat; v: PresentConcat } | string {
  const k = unrepeat(s.scoreMatMul.input![1], idx, true, g);
  const v = unrepeat(s.valueMatMul.input![1], idx, false, g);
  // Grouped: the repeat groupQueryMatMuls removes (simplify.ts); else the cache itself.
  const ok = grouped ? k.repeated && v.repeated && !v.scale : k.repeatOps === 0 && v.repeatOps === 0 && !v.scale;
  if (!ok || !k.transposed) return 'keys or values reach the products other than through a transpose, a scale and a repeat';
  const kc = presentConcat(k.source, idx, io);
  const vc = presentConcat(v.source, idx, io);
  if (!kc || !vc) return 'the present is not Concat(past, new) on the positions axis';
  return { k: kc, v: vc };
}

/** Why this graph's plain attention keeps the export's concatenation, or null. */
export function plainInPlaceRefusal(
  g: GraphProto,
  sites: PlainSite[],
  io: DecoderIO,
  heads: number,
  kvHeads: number,
  windowed: boolean,
): string | null {
  if (io.kvType !== 'float32') return 'not float32';
  if (windowed) return 'a sliding window';
  if (!io.attentionMask) return 'no attention_mask input';
  const idx = indexGraph(g);
  const grouped = kvHeads < heads && heads % kvHeads === 0;
  for (const s of sites) {
    const r = siteConcats(g, s, idx, io, grouped);
    if (typeof r === 'string') return r;
  }
  return null;
}

/** The mask the export sees and the tensors the sites share; nodes go first in the graph. */
export function addHoles(model: ModelProto, io: DecoderIO, shape: { heads: number; kvHeads: number; headDim: number }): Holes {
  const g = model.graph!;
  addShared(g);
  if (!(model.opsetImport ?? []).some((o) => o.domain === 'com.microsoft'))
    model.opsetImport = [...(model.opsetImport ?? []), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })];
  const am = io.attentionMask!;
  const t = (s: string) => P + s;
  const n = (op: string, inputs: string[], o: string, attrs: Record<string, number | number[]> = {}) => node(op, inputs, [o], o, attrs);
  g.initializer!.push(
    int64Tensor(t('axis1'), [1]),
    int64Tensor(t('join_rows'), [Math.floor((shape.kvHeads * shape.headDim) / shape.heads)], []),
  );
  const amType = io.attentionMaskType === 'int32' ? DT.INT32 : DT.INT64;
  const nodes = [
    n('Shape', [io.inputIds], t('ids_shape')),
    n('Gather', [t('ids_shape'), G + 'one'], t('S'), { axis: 0 }), // scalar
    n('Gather', [t('ids_shape'), G + 'zero'], t('B'), { axis: 0 }),
    n('Shape', [am], t('am_shape')),
    n('Gather', [t('am_shape'), G + 'one'], t('T'), { axis: 0 }),
    n('Shape', [io.past[0][0]], t('past_shape')),
    n('Gather', [t('past_shape'), G + 'two'], t('cap'), { axis: 0 }),
    // Row b's ones are its positions and its new tokens: past_b = count - S.
    n('Cast', [am], t('am64'), { to: DT.INT64 }),
    n('ReduceSum', [t('am64'), t('axis1')], t('count'), { keepdims: 1 }), // [batch, 1]
    n('Sub', [t('count'), t('S')], t('past_raw')),
    n('Max', [t('past_raw'), G + 'zero'], t('past_b1')),
    n('Range', [G + 'zero', t('cap'), G + 'one'], t('ar_c')), // [cap]
    n('Less', [t('ar_c'), t('past_b1')], t('seen')), // [batch, cap]
    n('Cast', [t('seen')], t('seen_m'), { to: amType }),
    n('Reshape', [t('B'), G + 'i1'], t('B1')),
    n('Reshape', [t('S'), G + 'i1'], t('S1')),
    n('Concat', [t('B1'), t('S1')], t('new_shape'), { axis: 0 }),
    n('Expand', [t('one_m'), t('new_shape')], t('new_m')), // [batch, S]
    n('Concat', [t('seen_m'), t('new_m')], t('mask'), { axis: 1 }), // [batch, cap + S]
    // Score column j stands for position j (cached) or past_b + j - cap (new).
    n('Add', [t('cap'), t('S')], t('width')),
    n('Range', [G + 'zero', t('width'), G + 'one'], t('ar_w')),
    n('Less', [t('ar_w'), t('cap')], t('is_cached')),
    n('Sub', [t('ar_w'), t('cap')], t('rel')),
    n('Add', [t('rel'), t('past_b1')], t('new_pos')), // [batch, cap + S]
    n('Where', [t('is_cached'), t('ar_w'), t('new_pos')], t('col_pos')),
    n('Unsqueeze', [t('col_pos'), G + 'axes12'], t('col_pos4')), // [batch, 1, 1, cap + S]
    n('Greater', [t('S'), t('join_rows')], t('join')),
    n('Reshape', [t('cap'), G + 'i1'], t('cap1')),
    n('Concat', [t('cap1'), t('S1')], t('split_at'), { axis: 0 }),
  ];
  nodes.unshift(n('Cast', [G + 'one'], t('one_m'), { to: amType }));
  // Readers of the mask read ours; readers of a one-input Concat's copy of a past read the past
  // (exports take the past length from such a copy: a copy of the cache each step, for its shape).
  const rename = new Map([[am, t('mask')]]);
  const pasts = new Set(io.past.flat());
  const outputs = new Set((g.output ?? []).map((o) => o.name));
  for (const x of g.node ?? [])
    if ((x.opType === 'Identity' || x.opType === 'Concat') && x.input?.length === 1 && pasts.has(x.input[0]) && !outputs.has(x.output![0]))
      rename.set(x.output![0], x.input[0]);
  const ours = new Set(nodes);
  for (const x of g.node ?? []) if (!ours.has(x)) x.input = (x.input ?? []).map((i) => rename.get(i) ?? i);
  g.node!.unshift(...nodes);
  return {
    pastB1: t('past_b1'),
    S: t('S'),
    cap: t('cap'),
    T: t('T'),
    columnPositions: t('col_pos4'),
    join: t('join'),
    splitAt: t('split_at'),
  };
}

/**
 * Splits a site's two products over the cache and the new positions, and makes its presents the
 * new positions only. Runs after groupQueryMatMuls; the concatenations become dead nodes.
 */
export function splitSite(g: GraphProto, s: PlainSite, io: DecoderIO, holes: Holes, tag: string): void {
  const idx = indexGraph(g);
  // After groupQueryMatMuls: the keys transposed (a scale moved to the queries), the values as cached.
  const kw = unrepeat(s.scoreMatMul.input![1], idx, true, g);
  const k = kw.transposed && kw.repeatOps === 0 ? presentConcat(kw.source, idx, io) : null;
  const v = presentConcat(s.valueMatMul.input![1], idx, io);
  if (!k || !v) throw new Error(`internal: layer ${tag} lost its cache concatenation`);
  const t = (x: string) => `${P}${tag}${x}`;
  const fused = (q: string, keys: string, out: string) => {
    const nd = node('FusedMatMul', [q, keys], [out], out, { transB: 1 });
    nd.domain = 'com.microsoft';
    return nd;
  };
  let q = s.scoreMatMul.input![0];
  const scores = s.scoreMatMul.output![0];
  const scoreNodes: NodeProto[] = [];
  if (kw.scale) {
    scoreNodes.push(node('Mul', [q, kw.scale], [t('q_scaled')], t('q_scaled')));
    q = t('q_scaled');
  }
  // Two ways to each product, picked by the rows fed (see gqaInPlace.ts, which does the same):
  // apart for decoding steps (joining would copy the cache), joined for prefill chunks (where
  // concatenating and splitting the score blocks copies more than joining the cache does).
  scoreNodes.push(
    ifNode(
      t('scores'),
      holes.join,
      [scores],
      {
        nodes: [
          node('Concat', [k.past, k.fresh], [t('k_all')], t('k_all'), { axis: 2 }),
          fused(q, t('k_all'), t('sj')), // [batch, kvHeads, group*S, cap + S]
        ],
        outputs: [t('sj')],
      },
      {
        nodes: [
          fused(q, k.past, t('sp')), // [batch, kvHeads, group*S, cap]
          fused(q, k.fresh, t('sn')), // [batch, kvHeads, group*S, S]
          node('Concat', [t('sp'), t('sn')], [t('sa')], t('sa'), { axis: -1 }),
        ],
        outputs: [t('sa')],
      },
    ),
  );
  g.node!.splice(g.node!.indexOf(s.scoreMatMul), 1, ...scoreNodes);
  const probs = s.valueMatMul.input![0];
  const out = s.valueMatMul.output![0];
  const values = ifNode(
    t('values'),
    holes.join,
    [out],
    {
      nodes: [
        node('Concat', [v.past, v.fresh], [t('v_all')], t('v_all'), { axis: 2 }),
        node('MatMul', [probs, t('v_all')], [t('oj')], t('oj')),
      ],
      outputs: [t('oj')],
    },
    {
      nodes: [
        node('Split', [probs, holes.splitAt], [t('pp'), t('pn')], t('split'), { axis: -1 }),
        node('MatMul', [t('pp'), v.past], [t('o_past')], t('o_past')),
        node('MatMul', [t('pn'), v.fresh], [t('o_new')], t('o_new')),
        node('Add', [t('o_past'), t('o_new')], [t('oa')], t('oa')),
      ],
      outputs: [t('oa')],
    },
  );
  g.node!.splice(g.node!.indexOf(s.valueMatMul), 1, values);
  // The presents: the new positions, under the output names the runner feeds back.
  for (const [c, name] of [
    [k, 'k_all'],
    [v, 'v_all'],
  ] as const) {
    c.node.output = [t(`${name}_dead`)];
    g.node!.push(node('Identity', [c.fresh], [c.present], t(`${name}_new`)));
    for (const o of g.output ?? []) {
      const dims = o.name === c.present ? o.type?.tensorType?.shape?.dim : null;
      if (dims?.length === 4) dims[2] = onnx.TensorShapeProto.Dimension.create({ dimParam: NEW_POSITIONS_DIM });
    }
    g.valueInfo = (g.valueInfo ?? []).filter((vi) => vi.name !== c.present);
  }
}
