// GroupQueryAttention rewritten as plain ops that read the KV cache where it lies and hand back only
// the new positions. Why not keep the op:
//   - It appends in place only when its present output IS its past input, and onnxruntime-node
//     (1.30, 1.31) copies every output it returns into a fresh JS buffer, that one included: each
//     step copied the whole cache, page faults and garbage collection with it (at 8K tokens on a
//     0.5B model, more than reading the weights; at 32K, three times more).
//   - On CPU it multiplies each query head by its group's keys separately, reading the cache once
//     per query head; here one product per KV head reads it once.
// The rewrite, for row b of S new tokens (past_b = seqlens_k[b] + 1 - S positions already cached):
//   in   past key/value [batch, kvHeads, cap, headDim], positions [0, past_b) valid, cap >= past_b
//   out  present key/value = the S new positions only, [batch, kvHeads, S, headDim] (rotary applied);
//        the runner writes them at [past_b, past_b + S) of its buffers (kv.ts, mode 'append')
//   scores over the cached columns [cap] and the new ones [S], masked (beyond past_b; causal; the
//   op's local window), one softmax over both; for a few rows (decoding) the two score blocks are
//   computed apart and probs.V is the sum of two products, for many (prefill chunks) keys and
//   values are joined first (an If picks, by S).
// What the op computes and this computes agree to float rounding (test/integration: the fixtures'
// goldens, and the runner's logits against the op's). Sites this does not cover keep the op.
import { DT, NAME_PREFIX, attrNumber, floatTensor, ifNode, int64Tensor, node, onnx, type GraphProto, type NodeProto } from './graph.js';
import { restrictBias } from './restrict.js';
import type { SiteCtx } from './instrument.js';

const P = NAME_PREFIX + 'gqa/';
/** The present outputs' position axis: a session whose graph says so returns only the new positions. */
export const NEW_POSITIONS_DIM = 'retrieval_lens_new_positions';

/** Why this GroupQueryAttention node cannot be rewritten (it then keeps the op), or null. */
export function inPlaceRefusal(g: GraphProto, n: NodeProto, act: number): string | null {
  if (act !== DT.FLOAT) return 'not float32';
  const ins = n.input ?? [];
  if (ins.slice(9).some(Boolean)) return 'position_ids, attention_bias or head_sink inputs';
  if ((n.output ?? []).slice(3).some(Boolean)) return 'extra outputs';
  if (!ins[3] || !ins[4] || !ins[5]) return 'no past';
  if (attrNumber(n, 'smooth_softmax')) return 'smooth softmax';
  const outs = new Set((g.output ?? []).map((o) => o.name));
  if (!outs.has(n.output?.[1] ?? '') || !outs.has(n.output?.[2] ?? '')) return 'present is not a graph output';
  const inputs = new Set((g.input ?? []).map((i) => i.name));
  if (!inputs.has(ins[3]) || !inputs.has(ins[4])) return 'past is not a graph input';
  if (attrNumber(n, 'do_rotary') && rotaryDim(g, n) === null) return 'rotary cache of unknown size';
  return null;
}

/** 2 x the cos cache's columns, when the cache is an initializer. */
function rotaryDim(g: GraphProto, n: NodeProto): number | null {
  const cos = (g.initializer ?? []).find((i) => i.name === n.input?.[7]);
  return cos?.dims?.length === 2 ? 2 * Number(cos.dims[1]) : null;
}

function floatAttr(nd: NodeProto, name: string, f: number): NodeProto {
  nd.attribute = [...(nd.attribute ?? []), onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f })];
  return nd;
}

/** Constants every rewritten site shares, added once per graph. */
export function addShared(g: GraphProto): void {
  if (g.initializer!.some((i) => i.name === P + 'zero')) return;
  g.initializer!.push(
    int64Tensor(P + 'zero', [0], []),
    int64Tensor(P + 'one', [1], []),
    int64Tensor(P + 'i1', [1]),
    int64Tensor(P + 'two', [2], []),
    int64Tensor(P + 'last', [-1]),
    int64Tensor(P + 'axes12', [1, 2]),
    int64Tensor(P + 'first3', [3]),
    int64Tensor(P + 'start0', [0]),
    floatTensor(P + 'open', [0], []),
    floatTensor(P + 'shut', [-Infinity], []),
  );
}

/**
 * Exposed rows laid out by position: `last` [batch, heads, rows, cap + S] holds the cached columns
 * then the S new ones; `out` [batch, heads, rows, T] has row b's cached positions [0, past_b), its
 * new ones at [past_b, past_b + S) and zeros after them. `pastB1` [batch, 1]; S, cap, T int64 scalars.
 */
export function placeRows(
  t: (s: string) => string,
  last: string,
  pastB1: string,
  S: string,
  cap: string,
  T: string,
  out: string,
): NodeProto[] {
  const n = (op: string, inputs: string[], o: string, attrs: Record<string, number | number[]> = {}) => node(op, inputs, [o], o, attrs);
  return [
    n('Range', [P + 'zero', T, P + 'one'], t('ar_t')), // [T]
    n('Less', [t('ar_t'), pastB1], t('is_past')), // [batch, T]
    n('Sub', [t('ar_t'), pastB1], t('rel')),
    n('Sub', [S, P + 'one'], t('S_less1')),
    n('Clip', [t('rel'), P + 'zero', t('S_less1')], t('rel_c')),
    n('Add', [t('rel_c'), cap], t('new_col')),
    n('Where', [t('is_past'), t('ar_t'), t('new_col')], t('col')), // [batch, T]
    n('Add', [pastB1, S], t('end_b')),
    n('Less', [t('ar_t'), t('end_b')], t('is_real')), // [batch, T]
    n('Unsqueeze', [t('col'), P + 'axes12'], t('col4')),
    n('Unsqueeze', [t('is_real'), P + 'axes12'], t('is_real4')), // [batch, 1, 1, T]
    n('Shape', [last], t('last_shape')),
    n('Slice', [t('last_shape'), P + 'start0', P + 'first3'], t('last_lead')),
    n('Reshape', [T, P + 'i1'], t('T1')),
    n('Concat', [t('last_lead'), t('T1')], t('rows_shape'), { axis: 0 }),
    n('Expand', [t('col4'), t('rows_shape')], t('col_full')),
    n('GatherElements', [last, t('col_full')], t('gathered'), { axis: 3 }),
    n('Where', [t('is_real4'), t('gathered'), P + 'open'], out),
  ];
}

export interface InPlaceSite {
  /** The node writing the attention output [batch, S, heads * headDim] (the op's output 0). */
  output: NodeProto;
  /** The last `attention_rows` query rows of the probabilities, [batch, heads, rows, total], float. */
  rows: string;
}

/**
 * Replaces GroupQueryAttention `n` (its query already scaled by the head mask) with plain ops.
 * `restrict` adds the per-head sink/window bias (restrict.ts) to the scores.
 */
export function rewriteInPlace(c: SiteCtx, n: NodeProto, restrict: boolean): InPlaceSite {
  const g = c.g;
  addShared(g);
  const { heads: H, kvHeads: KV, headDim: D } = c.shape;
  const t = (s: string) => c.t(`gqa_${s}`);
  const init = g.initializer!;
  const nodes: NodeProto[] = [];
  const add = (op: string, inputs: string[], out: string, attrs: Record<string, number | number[]> = {}, domain = '') => {
    const nd = node(op, inputs, [out], out, attrs);
    if (domain) nd.domain = domain;
    nodes.push(nd);
    return nd;
  };
  const ints = (name: string, v: number[]) => (init.push(int64Tensor(t(name), v)), t(name));
  const [x, k0, v0, pastK, pastV, seqlensK, totalLen, cos, sin] = [...(n.input ?? []), '', '', '', '', '', '', '', '', ''];
  const [out, presentK, presentV] = n.output!;

  // Positions: past_b and the new tokens' positions past_b + s, [batch, S].
  let q = x,
    k = k0,
    v = v0;
  if (!k0) {
    [q, k, v] = [t('q'), t('k'), t('v')];
    nodes.push(node('Split', [x, ints('split_sizes', [H * D, KV * D, KV * D])], [q, k, v], t('split'), { axis: 2 }));
  }
  add('Shape', [q], t('q_shape'));
  add('Gather', [t('q_shape'), P + 'one'], t('S'), { axis: 0 }); // scalar
  add('Reshape', [t('S'), P + 'i1'], t('S1'));
  add('Cast', [seqlensK], t('seqlens'), { to: DT.INT64 }); // [batch]
  add('Add', [t('seqlens'), P + 'one'], t('total_b'));
  add('Sub', [t('total_b'), t('S')], t('past_raw'));
  // A first prompt shorter than the chunk (right padding) starts at 0, as the op's positions do.
  add('Max', [t('past_raw'), P + 'zero'], t('past_b'));
  add('Unsqueeze', [t('past_b'), P + 'last'], t('past_b1')); // [batch, 1]
  add('Range', [P + 'zero', t('S'), P + 'one'], t('ar_s')); // [S]
  add('Add', [t('past_b1'), t('ar_s')], t('pos')); // [batch, S]
  // The op's total_sequence_length: the exposed rows' width and the restriction's window end.
  add('Cast', [totalLen], t('T_raw'), { to: DT.INT64 });
  add('Reshape', [t('T_raw'), ints('scalar', [])], t('T'));

  if (attrNumber(n, 'do_rotary')) {
    const rd = rotaryDim(g, n)!;
    const interleaved = attrNumber(n, 'rotary_interleaved') ?? 0;
    const dimAttr: Record<string, number> = rd !== D ? { rotary_embedding_dim: rd } : {};
    add('RotaryEmbedding', [q, t('pos'), cos, sin], t('q_rot'), { interleaved, num_heads: H, ...dimAttr }, 'com.microsoft');
    add('RotaryEmbedding', [k, t('pos'), cos, sin], t('k_rot'), { interleaved, num_heads: KV, ...dimAttr }, 'com.microsoft');
    [q, k] = [t('q_rot'), t('k_rot')];
  }
  // Q [batch, S, heads*D] -> [batch, heads, S, D] -> [batch, kvHeads, group*S, D]: a group's query
  // heads are adjacent (head h reads KV head h / group), so each KV head is one matrix product.
  add('Reshape', [q, ints('q4_shape', [0, 0, H, D])], t('q4'));
  add('Transpose', [t('q4')], t('q_t'), { perm: [0, 2, 1, 3] });
  add('Reshape', [t('q_t'), ints('qg_shape', [0, KV, -1, D])], t('q_g'));
  const kvShape = ints('kv4_shape', [0, 0, KV, D]);
  add('Reshape', [k, kvShape], t('k4'));
  add('Transpose', [t('k4')], presentK, { perm: [0, 2, 1, 3] }); // [batch, kvHeads, S, D]
  add('Reshape', [v, kvShape], t('v4'));
  add('Transpose', [t('v4')], presentV, { perm: [0, 2, 1, 3] });

  const scale = attrNumber(n, 'scale') || 1 / Math.sqrt(D);
  const softcap = attrNumber(n, 'softcap') ?? 0;
  if (softcap > 0) init.push(floatTensor(t('softcap'), [softcap], []));
  /** Scores [batch, kvHeads, group*S, n] -> [batch, heads, S, n] (the same memory), softcapped. */
  const scores = (keys: string, tag: string, into: NodeProto[]): string => {
    const raw = t(`${tag}_g`);
    const nd = node('FusedMatMul', [t('q_g'), keys], [raw], raw, { transB: 1 });
    nd.domain = 'com.microsoft';
    into.push(floatAttr(nd, 'alpha', scale));
    into.push(node('Reshape', [raw, t('heads_shape')], [t(tag)], t(tag)));
    if (!(softcap > 0)) return t(tag);
    into.push(
      node('Div', [t(tag), t('softcap')], [t(`${tag}_cap_div`)], t(`${tag}_cap_div`)),
      node('Tanh', [t(`${tag}_cap_div`)], [t(`${tag}_cap_tanh`)], t(`${tag}_cap_tanh`)),
      node('Mul', [t(`${tag}_cap_tanh`), t('softcap')], [t(`${tag}_cap`)], t(`${tag}_cap`)),
    );
    return t(`${tag}_cap`);
  };
  add('Concat', [ints('hs_head', [0, H]), t('S1'), P + 'last'], t('heads_shape'), { axis: 0 });

  // Masks. Cached column j (of cap) is visible to row b's query s iff j < past_b, and within the
  // op's local window W iff j > past_b + s - W: W positions with its own, as onnxruntime 1.30's op
  // does (checked against it on the windowed fixtures). New column s' iff s' <= s (and s - s' < W).
  add('Shape', [pastK], t('past_shape'));
  add('Gather', [t('past_shape'), P + 'two'], t('cap'), { axis: 0 });
  add('Reshape', [t('cap'), P + 'i1'], t('cap1'));
  add('Range', [P + 'zero', t('cap'), P + 'one'], t('ar_c')); // [cap]
  add('Unsqueeze', [t('ar_s'), P + 'last'], t('ar_s_col')); // [S, 1]
  add('Less', [t('ar_c'), t('past_b1')], t('p_seen')); // [batch, cap]
  add('Unsqueeze', [t('p_seen'), P + 'axes12'], t('p_seen4')); // [batch, 1, 1, cap]
  add('LessOrEqual', [t('ar_s'), t('ar_s_col')], t('n_seen')); // [S, S]: s' <= s
  let pSeen = t('p_seen4'),
    nSeen = t('n_seen');
  const window = attrNumber(n, 'local_window_size') ?? -1;
  if (window > 0) {
    init.push(int64Tensor(t('window'), [window - 1], []));
    // From = past_b + s - (W - 1), [batch, 1, S, 1]; cached j >= From; new s' >= s - (W - 1).
    add('Sub', [t('pos'), t('window')], t('from')); // [batch, S]
    add('Unsqueeze', [t('from'), ints('from_axes', [1, 3])], t('from4'));
    add('GreaterOrEqual', [t('ar_c'), t('from4')], t('p_win')); // [batch, 1, S, cap]
    add('And', [pSeen, t('p_win')], t('p_seen_w'));
    add('Sub', [t('ar_s_col'), t('window')], t('n_from')); // [S, 1]
    add('GreaterOrEqual', [t('ar_s'), t('n_from')], t('n_win')); // [S, S]
    add('And', [nSeen, t('n_win')], t('n_seen_w'));
    [pSeen, nSeen] = [t('p_seen_w'), t('n_seen_w')];
  }
  add('Where', [pSeen, P + 'open', P + 'shut'], t('p_bias')); // [batch, 1, 1 or S, cap]
  add('Where', [nSeen, P + 'open', P + 'shut'], t('n_bias')); // [S, S] or [batch, 1, S, S]
  let pBiasAll = t('p_bias'),
    nBiasAll = t('n_bias');
  const restricted: NodeProto[] = [];
  if (restrict) {
    // Restricted heads: the bias at each column's absolute position, T = total_sequence_length.
    // Added to the mask before the mask meets the scores ([batch, heads, 1, cap]), so the scores
    // take one pass of adds rather than two.
    const [pNodes, pBias] = restrictBias(c, t('ar_c'), t('T'), t('q_g'), 'past_'); // [1, heads, 1, cap]
    add('Unsqueeze', [t('pos'), ints('pos_axes', [1, 2])], t('pos4')); // [batch, 1, 1, S]
    nodes.push(...pNodes);
    const [nNodes, nBias] = restrictBias(c, t('pos4'), t('T'), t('q_g'), 'new_'); // [batch, heads, 1, S]
    nodes.push(...nNodes);
    // In the branch that uses them (below): with a local window the sum has the scores' size.
    restricted.push(
      node('Add', [pBiasAll, pBias], [t('p_bias_r')], t('p_bias_r')),
      node('Add', [nBiasAll, nBias], [t('n_bias_r')], t('n_bias_r')),
    );
    [pBiasAll, nBiasAll] = [t('p_bias_r'), t('n_bias_r')];
  }
  const back = ints('kv_rows_shape', [0, KV, -1, 0]); // [batch, kvHeads, group*S, n]

  // Two ways to one result, probs [batch, heads, S, cap + S] (cached columns, then new) and the
  // output [batch, kvHeads, group*S, D]; which costs less depends on S, known only at run time.
  //   apart   scores over the cache and over the new keys, concatenated for one softmax and split
  //           again: copies 2 x heads x S x (cap + S) floats. A decoding step (S = 1) copies
  //           almost nothing, where joining would copy the whole cache.
  //   joined  keys and values concatenated once ([batch, kvHeads, cap + S, D]): copies
  //           2 x kvHeads x (cap + S) x D floats, far less once S x heads passes kvHeads x D
  //           (prefill chunks: 8% of a 144-row chunk at 4K on the 0.5B shape went to the copies).
  // The head restriction applies to decoding steps only (restrict.ts: one query row), which go apart.
  const apart: NodeProto[] = [...restricted];
  const sp = scores(pastK, 'sp', apart); // [batch, heads, S, cap]
  const sn = scores(presentK, 'sn', apart); // [batch, heads, S, S]
  apart.push(
    node('Add', [sp, pBiasAll], [t('sp_masked')], t('sp_masked')),
    node('Add', [sn, nBiasAll], [t('sn_masked')], t('sn_masked')),
    node('Concat', [t('sp_masked'), t('sn_masked')], [t('scores')], t('scores'), { axis: -1 }),
    node('Softmax', [t('scores')], [t('probs_apart')], t('probs_apart'), { axis: -1 }),
    node('Concat', [t('cap1'), t('S1')], [t('split_at')], t('split_at'), { axis: 0 }),
    node('Split', [t('probs_apart'), t('split_at')], [t('pp'), t('pn')], t('split_probs'), { axis: -1 }),
    node('Reshape', [t('pp'), back], [t('pp_g')], t('pp_g')),
    node('Reshape', [t('pn'), back], [t('pn_g')], t('pn_g')),
    node('MatMul', [t('pp_g'), pastV], [t('o_past')], t('o_past')),
    node('MatMul', [t('pn_g'), presentV], [t('o_new')], t('o_new')),
    node('Add', [t('o_past'), t('o_new')], [t('o_apart')], t('o_apart')),
  );
  const joined: NodeProto[] = [
    node('Concat', [pastK, presentK], [t('k_all')], t('k_all'), { axis: 2 }),
    node('Concat', [pastV, presentV], [t('v_all')], t('v_all'), { axis: 2 }),
  ];
  const sj = scores(t('k_all'), 'sj', joined); // [batch, heads, S, cap + S]
  // The masks side by side, [batch, 1, S, cap + S]: no heads axis, small next to the scores.
  joined.push(
    node('Gather', [t('q_shape'), P + 'zero'], [t('batch')], t('batch'), { axis: 0 }),
    node('Reshape', [t('batch'), P + 'i1'], [t('batch1')], t('batch1')),
    node('Concat', [t('batch1'), P + 'i1', t('S1'), P + 'i1'], [t('lead')], t('lead'), { axis: 0 }),
    node('Expand', [t('p_bias'), t('lead')], [t('p_bias_e')], t('p_bias_e')),
    node('Expand', [t('n_bias'), t('lead')], [t('n_bias_e')], t('n_bias_e')),
    node('Concat', [t('p_bias_e'), t('n_bias_e')], [t('bias_j')], t('bias_j'), { axis: -1 }),
    node('Add', [sj, t('bias_j')], [t('sj_masked')], t('sj_masked')),
    node('Softmax', [t('sj_masked')], [t('probs_joined')], t('probs_joined'), { axis: -1 }),
    node('Reshape', [t('probs_joined'), back], [t('pj_g')], t('pj_g')),
    node('MatMul', [t('pj_g'), t('v_all')], [t('o_joined')], t('o_joined')),
  );
  init.push(int64Tensor(t('join_rows'), [Math.floor((KV * D) / H)], []));
  add('Greater', [t('S'), t('join_rows')], t('join'));
  nodes.push(
    ifNode(
      t('attend'),
      t('join'),
      [t('probs'), t('o_g')],
      { nodes: joined, outputs: [t('probs_joined'), t('o_joined')] },
      { nodes: apart, outputs: [t('probs_apart'), t('o_apart')] },
    ),
  );
  add('Reshape', [t('o_g'), ints('oh_shape', [0, H, -1, D])], t('o_h'));
  add('Transpose', [t('o_h')], t('o_t'), { perm: [0, 2, 1, 3] }); // [batch, S, heads, D]
  const output = add('Reshape', [t('o_t'), ints('out_shape', [0, 0, H * D])], out);

  // Exposed rows, laid out as the op's qk output: [batch, heads, rows, total] with row b's new
  // positions at [past_b, past_b + S) and zeros after them.
  // Named as rows.ts names every form's slice (the ordering test finds the layers by it).
  nodes.push(
    node(
      'Slice',
      [t('probs'), NAME_PREFIX + 'last_start', NAME_PREFIX + 'last_end', NAME_PREFIX + 'axis2'],
      [t('last')],
      c.t('slice_last'),
    ),
  ); // [batch, heads, rows, cap + S]
  nodes.push(...placeRows(t, t('last'), t('past_b1'), t('S'), t('cap'), t('T'), t('row')));

  const at = g.node!.indexOf(n);
  g.node!.splice(at, 1, ...nodes);
  for (const o of g.output ?? []) {
    if (o.name !== presentK && o.name !== presentV) continue;
    const dims = o.type?.tensorType?.shape?.dim;
    if (dims?.length === 4) dims[2] = onnx.TensorShapeProto.Dimension.create({ dimParam: NEW_POSITIONS_DIM });
  }
  return { output, rows: t('row') };
}
