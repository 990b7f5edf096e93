// Per-head attention restriction: a restricted head sees only the first `sink` positions and the
// last `window` ones, as a KV-cache policy that keeps the full cache for a few heads only
// (RazorAttention, DuoAttention, HeadKV) leaves every other head. Set per run, no rebuild:
//   inputs  head_restrict  float [layers, heads]  1 restricts the head, 0 leaves it whole
//           restrict_span  int64 [2]              [sink, window]
// The bias is 0 where a head may look and a large negative number elsewhere, added to the scores
// right before the softmax (after scaling, softcap and the causal mask). It applies to the last
// query row's positions, so the runner feeds it on decoding steps (one query) only.
//   plain                added to the Softmax input
//   GroupQueryAttention  through the op's attention_bias input (added to one the graph already has)
//   MultiHeadAttention, ONNX Attention: not supported (their masks take other shapes); say so
import { DT, floatTensor, insertBefore, int64Tensor, NAME_PREFIX, node, valueInfo, type GraphProto, type NodeProto } from './graph.js';
import type { InstrumentShape, SiteCtx } from './instrument.js';

export const HEAD_RESTRICT = 'head_restrict';
export const RESTRICT_SPAN = 'restrict_span';
const P = NAME_PREFIX + 'restrict/';
/** Far below any score, finite so that 0 x it stays 0; -inf in fp16, which the softmax handles. */
const NEG = -1e30;

export function addRestrictInputs(g: GraphProto, shape: InstrumentShape): void {
  g.input!.push(valueInfo(HEAD_RESTRICT, DT.FLOAT, [shape.layers, shape.heads]), valueInfo(RESTRICT_SPAN, DT.INT64, [2]));
  g.initializer!.push(
    int64Tensor(P + 'zero', [0], []),
    int64Tensor(P + 'one', [1], []),
    int64Tensor(P + 'i0', [0]),
    int64Tensor(P + 'i1', [1]),
    floatTensor(P + 'open', [0], []),
    floatTensor(P + 'shut', [NEG], []),
  );
  // sink and window as scalars, shared by every site.
  g.node!.unshift(
    node('Gather', [RESTRICT_SPAN, P + 'zero'], [P + 'sink'], P + 'sink', { axis: 0 }),
    node('Gather', [RESTRICT_SPAN, P + 'one'], [P + 'window'], P + 'window', { axis: 0 }),
  );
}

/**
 * Nodes computing this layer's bias [1, heads, 1, T] for a kv length `T` (an int64 scalar tensor),
 * typed like `like`; returns [nodes, name].
 */
function biasNodes(c: SiteCtx, T: string, like: string): [NodeProto[], string] {
  const j = c.t('restrict_j');
  const [nodes, bias] = restrictBias(c, j, T, like, '');
  return [[node('Range', [P + 'zero', T, P + 'one'], [j], j), ...nodes], bias];
}

/**
 * The bias at absolute positions `j` (int64, [..., 1, n] or [n]) for a kv length `T`: 0 where this
 * layer's restricted heads may look (the first `sink` positions, the last `window` ones) and for
 * heads left whole, NEG elsewhere; broadcast against [1, heads, 1, 1]. Typed like `like`.
 */
export function restrictBias(c: SiteCtx, j: string, T: string, like: string, tag: string): [NodeProto[], string] {
  const t = (s: string) => c.t(`restrict_${tag}${s}`);
  const layer = c.t('restrict_layer');
  const shape4 = c.t('restrict_shape4');
  if (!c.g.initializer!.some((i) => i.name === layer))
    c.g.initializer!.push(int64Tensor(layer, [c.layer], []), int64Tensor(shape4, [1, c.shape.heads, 1, 1]));
  const nodes = [
    node('Less', [j, P + 'sink'], [t('in_sink')], t('in_sink')),
    node('Sub', [T, P + 'window'], [t('from')], t('from')),
    node('GreaterOrEqual', [j, t('from')], [t('in_window')], t('in_window')),
    node('Or', [t('in_sink'), t('in_window')], [t('keep')], t('keep')),
    node('Where', [t('keep'), P + 'open', P + 'shut'], [t('bias_t')], t('bias_t')),
    node('Gather', [HEAD_RESTRICT, layer], [t('row')], t('row'), { axis: 0 }), // [heads]
    node('Reshape', [t('row'), shape4], [t('row4')], t('row4')), // [1, heads, 1, 1]
    node('Mul', [t('row4'), t('bias_t')], [t('bias_f')], t('bias_f')),
  ];
  if (c.castLike) nodes.push(node('CastLike', [t('bias_f'), like], [t('bias')], t('bias_cast')));
  else nodes.push(node('Cast', [t('bias_f')], [t('bias')], t('bias_cast'), { to: c.act }));
  return [nodes, t('bias')];
}

/**
 * Plain attention: bias added to the Softmax input [batch, heads, q, T]. Its columns are positions
 * 0..T-1, unless `columns` says which position each stands for ([batch, 1, 1, n], a cache read in
 * place: plainInPlace.ts) and how many positions there are (`T`, an int64 scalar).
 */
export function restrictPlain(c: SiteCtx, softmax: NodeProto, columns?: { positions: string; T: string }): void {
  const x = softmax.input![0];
  const t = (s: string) => c.t(`restrict_${s}`);
  let nodes: NodeProto[];
  let bias: string;
  if (columns) [nodes, bias] = restrictBias(c, columns.positions, columns.T, x, '');
  else {
    const shapeNodes = [
      node('Shape', [x], [t('x_shape')], t('x_shape')),
      node('Gather', [t('x_shape'), P + 'three'], [t('T')], t('T'), { axis: 0 }),
    ];
    if (!c.g.initializer!.some((i) => i.name === P + 'three')) c.g.initializer!.push(int64Tensor(P + 'three', [3], []));
    const [more, b] = biasNodes(c, t('T'), x);
    [nodes, bias] = [[...shapeNodes, ...more], b];
  }
  nodes.push(node('Add', [x, bias], [t('scores')], t('add')));
  insertBefore(c.g, softmax, nodes);
  softmax.input![0] = t('scores');
}

/** GroupQueryAttention: the bias through attention_bias [1, heads, q, T], T = total_sequence_length. */
export function restrictGQA(c: SiteCtx, gqa: NodeProto): void {
  const t = (s: string) => c.t(`restrict_${s}`);
  const inputs = [...(gqa.input ?? [])];
  while (inputs.length < 11) inputs.push('');
  const first = [
    node('Cast', [inputs[6]], [t('T')], t('T'), { to: DT.INT64 }), // total_sequence_length
    node('Shape', [inputs[0]], [t('q_shape')], t('q_shape')),
    node('Gather', [t('q_shape'), P + 'one'], [t('S')], t('S'), { axis: 0 }),
  ];
  const [nodes, bias] = biasNodes(c, t('T'), inputs[0]);
  // [1, heads, 1, T] -> [1, heads, S, T]: the op wants a row per query.
  c.g.initializer!.push(int64Tensor(t('one_heads'), [1, c.shape.heads]));
  nodes.push(
    node('Reshape', [t('S'), P + 'i1'], [t('S1')], t('S1')),
    node('Reshape', [t('T'), P + 'i1'], [t('T1')], t('T1')),
    node('Concat', [t('one_heads'), t('S1'), t('T1')], [t('bias_shape')], t('bias_shape'), { axis: 0 }),
    node('Expand', [bias, t('bias_shape')], [t('bias_full')], t('bias_full')),
  );
  let full = t('bias_full');
  if (inputs[10]) {
    nodes.push(node('Add', [inputs[10], full], [t('bias_sum')], t('bias_sum')));
    full = t('bias_sum');
  }
  inputs[10] = full;
  gqa.input = inputs;
  insertBefore(c.g, gqa, [...first, ...nodes]);
}
