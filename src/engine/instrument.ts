// Rewrites a decoder graph so that every layer's attention can be read and any head masked:
//   inputs  head_mask          float [layers, heads]  1 keeps a head, 0 masks it
//           head_mask_uniform  float [1]              1: masked heads attend uniformly (the paper's
//                                                     query zeroing), 0: masked heads output exactly 0
//   outputs attentions.{l}     float [batch, heads, kvLen]  probabilities of the LAST query position
//           attentions         float [batch, layers*heads, kvLen]  the same, all layers concatenated
// Only the last query row is exposed so a decoding step costs no extra memory at any context length.
import { attentionGraphs, assertNoFusedAttention, findAttentionSites, type AttentionSite } from './attention.js';
import { DT, elemTypeOf, floatTensor, int64Tensor, node, valueInfo, type GraphProto, type ModelProto, type NodeProto } from './graph.js';
import { RetrievalLensError } from './errors.js';
import type { AttentionNodeInfo } from './types.js';

export const HEAD_MASK = 'head_mask';
export const HEAD_MASK_UNIFORM = 'head_mask_uniform';
export const attentionOutput = (layer: number) => `attentions.${layer}`;
/** All layers' rows in one output, [batch, layers * heads, kvLen]: one fetch per step instead of one per layer. */
export const ALL_ATTENTIONS = 'attentions';
/** Bumped whenever the rewrite changes, so cached instrumented graphs are rebuilt. */
export const INSTRUMENT_VERSION = 2;

export interface InstrumentResult {
  attention: AttentionNodeInfo[];
  /** Element type of activations / KV cache (DT.FLOAT or DT.FLOAT16). */
  activationType: number;
}

const P = 'retrieval_lens/';

/** Replaces every use of tensor `from` by `to`, except in `skip` (the node that produces `to`). */
function rewire(g: GraphProto, from: string, to: string, skip: NodeProto): void {
  for (const n of g.node ?? []) {
    if (n === skip) continue;
    n.input = n.input!.map((i) => (i === from ? to : i));
    for (const sg of (n.attribute ?? []).flatMap((a) => (a.g ? [a.g] : []))) rewire(sg, from, to, skip);
  }
  for (const o of g.output ?? []) if (o.name === from) throw new RetrievalLensError('ATTENTION_NOT_FOUND', `attention tensor ${from} is a graph output; unsupported layout`);
}

/** Inserts `nodes` right after `anchor` so the node list stays topologically sorted. */
function insertAfter(g: GraphProto, anchor: NodeProto, nodes: NodeProto[]): void {
  const i = g.node!.indexOf(anchor);
  g.node!.splice(i + 1, 0, ...nodes);
}

function activationTypeOf(model: ModelProto): number {
  const g = model.graph!;
  const kv = [...(g.input ?? []), ...(g.output ?? [])].find((v) => /^(past_key_values|present)[._]/.test(v.name ?? ''));
  return elemTypeOf(kv ?? undefined) ?? DT.FLOAT;
}

/** Graph-level scale tables: per layer, the factor for raw scores and for head outputs. */
function addMaskTables(g: GraphProto, layers: number, heads: number, act: number): { scoreScale: string; outScale: string } {
  g.input!.push(valueInfo(HEAD_MASK, DT.FLOAT, [layers, heads]), valueInfo(HEAD_MASK_UNIFORM, DT.FLOAT, [1]));
  g.initializer!.push(floatTensor(P + 'one', [1], []), int64Tensor(P + 'table_shape', [layers, 1, heads, 1, 1]));
  const t = (s: string) => P + s;
  // inv = 1 - mask; scoreScale = 1 - u*inv (uniform mode zeroes Q.K^T); outScale = 1 - (1-u)*inv.
  const nodes = [
    node('Sub', [t('one'), HEAD_MASK], [t('inv')], t('inv')),
    node('Mul', [t('inv'), HEAD_MASK_UNIFORM], [t('u_inv')], t('u_inv')),
    node('Sub', [t('one'), t('u_inv')], [t('score_scale_2d')], t('score_scale_2d')),
    node('Sub', [t('one'), HEAD_MASK_UNIFORM], [t('not_u')], t('not_u')),
    node('Mul', [t('inv'), t('not_u')], [t('z_inv')], t('z_inv')),
    node('Sub', [t('one'), t('z_inv')], [t('out_scale_2d')], t('out_scale_2d')),
    // [layers, heads] -> [layers, 1, heads, 1, 1]: Gather(layer) then broadcasts over [batch, heads, q, *].
    node('Reshape', [t('score_scale_2d'), t('table_shape')], [t('score_scale_f')], t('score_scale_r')),
    node('Reshape', [t('out_scale_2d'), t('table_shape')], [t('out_scale_f')], t('out_scale_r')),
  ];
  if (act !== DT.FLOAT) {
    nodes.push(
      node('Cast', [t('score_scale_f')], [t('score_scale')], t('score_scale_cast'), { to: act }),
      node('Cast', [t('out_scale_f')], [t('out_scale')], t('out_scale_cast'), { to: act }),
    );
  } else {
    nodes.push(node('Identity', [t('score_scale_f')], [t('score_scale')], t('score_scale_id')), node('Identity', [t('out_scale_f')], [t('out_scale')], t('out_scale_id')));
  }
  g.node!.unshift(...nodes);
  g.initializer!.push(int64Tensor(P + 'last_start', [-1]), int64Tensor(P + 'last_end', [2 ** 53 - 1]), int64Tensor(P + 'axis2', [2]), int64Tensor(P + 'rows_shape', [0, 0, -1]));
  return { scoreScale: t('score_scale'), outScale: t('out_scale') };
}

/** Per-layer surgery inside graph `g` (the main graph or an If branch). Returns the new output names. */
function instrumentSites(g: GraphProto, sites: AttentionSite[], tables: { scoreScale: string; outScale: string }, act: number, tag: string): string[] {
  const outs: string[] = [];
  sites.forEach((s, l) => {
    const t = (x: string) => `${P}${tag}L${l}/${x}`;
    g.initializer!.push(int64Tensor(t('layer'), [l], []));
    // Uniform mode: scale raw Q.K^T by 0 for masked heads; after scaling and the causal mask the
    // softmax is uniform over the visible positions, exactly what zeroing the query does.
    const scores = s.scoreMatMul.output![0];
    const scaledScores = t('scores');
    insertAfter(g, s.scoreMatMul, [
      node('Gather', [tables.scoreScale, t('layer')], [t('score_scale')], t('gather_score_scale'), { axis: 0 }), // [1, heads, 1, 1]
      node('Mul', [scores, t('score_scale')], [scaledScores], t('mask_scores')), // [batch, heads, q, kvLen]
    ]);
    rewire(g, scores, scaledScores, g.node![g.node!.indexOf(s.scoreMatMul) + 2]);
    // Zero mode: scale the head outputs [batch, heads, q, headDim].
    const heads = s.valueMatMul.output![0];
    const scaledHeads = t('heads');
    insertAfter(g, s.valueMatMul, [
      node('Gather', [tables.outScale, t('layer')], [t('out_scale')], t('gather_out_scale'), { axis: 0 }),
      node('Mul', [heads, t('out_scale')], [scaledHeads], t('mask_heads')),
    ]);
    rewire(g, heads, scaledHeads, g.node![g.node!.indexOf(s.valueMatMul) + 2]);
    // Expose the last query row: [batch, heads, q, kvLen] -> [batch, heads, 1, kvLen] -> [batch, heads, kvLen].
    const probs = s.softmax.output![0];
    const out = attentionOutput(l);
    const halfProbs = act !== DT.FLOAT && !s.casts;
    const rowsName = halfProbs ? t('rows16') : out;
    const extra = [
      node('Slice', [probs, P + 'last_start', P + 'last_end', P + 'axis2'], [t('last')], t('slice_last')),
      node('Reshape', [t('last'), P + 'rows_shape'], [rowsName], t('rows')),
    ];
    if (halfProbs) extra.push(node('Cast', [rowsName], [out], t('rows_cast'), { to: DT.FLOAT }));
    insertAfter(g, s.softmax, extra);
    outs.push(out);
  });
  return outs;
}

/** Instruments `model` in place. */
export function instrumentModel(model: ModelProto, layers: number, heads: number): InstrumentResult {
  const g = model.graph;
  if (!g || !g.node?.length) throw new RetrievalLensError('CORRUPT_ONNX', 'the ONNX file has no graph');
  assertNoFusedAttention(g);
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (opset && Number(opset.version) < 13) throw new RetrievalLensError('UNSUPPORTED_ARCHITECTURE', `opset ${opset.version} is too old; opset 13 or later is needed`);
  if ((g.input ?? []).some((i) => i.name === HEAD_MASK)) throw new RetrievalLensError('BAD_INPUT', 'this graph is already instrumented');
  const act = activationTypeOf(model);
  const { graphs, ifNode } = attentionGraphs(g);
  const siteLists = graphs.map((sg) => findAttentionSites(sg, layers));
  const tables = addMaskTables(g, layers, heads, act);
  const outNames = graphs.map((sg, i) => instrumentSites(sg, siteLists[i], tables, act, graphs.length > 1 ? `b${i}/` : ''));
  const outputs = outNames[0].map((name) => valueInfo(name, DT.FLOAT, ['batch_size', heads, 'total_sequence_length']));
  if (ifNode) {
    // Merged decoders: each If branch yields attentions.{l}; the If node re-exports them.
    graphs.forEach((sg) => sg.output!.push(...outputs.map((o) => valueInfo(o.name!, DT.FLOAT, ['batch_size', heads, 'total_sequence_length']))));
    ifNode.output!.push(...outNames[0]);
  }
  g.output!.push(...outputs);
  g.node!.push(node('Concat', outNames[0], [ALL_ATTENTIONS], P + 'concat_attentions', { axis: 1 }));
  g.output!.push(valueInfo(ALL_ATTENTIONS, DT.FLOAT, ['batch_size', layers * heads, 'total_sequence_length']));
  const sites = siteLists[0];
  return {
    activationType: act,
    attention: sites.map((s, layer) => ({ layer, softmax: s.softmax.name ?? '', valueMatMul: s.valueMatMul.name ?? '', scoreMatMul: s.scoreMatMul.name ?? '', casts: s.casts })),
  };
}
