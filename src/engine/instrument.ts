// Rewrites a decoder graph so that every layer's attention can be read and any head masked:
//   inputs  head_mask          float [layers, heads]  1 keeps a head, 0 masks it
//           head_mask_uniform  float [1]              1: masked heads attend uniformly (the paper's
//                                                     query zeroing), 0: masked heads output exactly 0
//           attention_rows     int64 [1]              how many of the last query positions to expose (1 when decoding)
//   output  attentions         float [batch, layers*heads, rows, kvLen]  probabilities of the LAST
//                              `attention_rows` query positions, all layers concatenated (one fetch per step)
// Only the last rows are exposed so a decoding step costs no extra memory at any context length; a
// chunk asks for more when each of its tokens' rows is wanted (a question read token by token).
// Each attention form gets the same contract (see attention.ts for the forms):
//   plain  uniform: Q.K^T scaled by 0 for masked heads; zero: probs.V scaled by 0; rows sliced off the Softmax
//   fused  uniform: the head's slice of Q scaled by 0 before the op, so its scores are 0 and the op's
//          softmax is uniform over the keys the head may see (also with rotary inside the op, a
//          window or softcap); zero: the head's slice of the op's output scaled by 0; rows from the
//          op's own probability output (GQA qk_output=2, Attention qk_matmul_output_mode=3, MHA qk + Softmax)
import { attentionGraphs, findAttentionSites, uniformMaskCaveat, type AttentionSite, type FusedSite, type PlainSite } from './attention.js';
import {
  DT,
  graphDtypeOf,
  onnx,
  attrNumber,
  floatTensor,
  insertAfter,
  insertBefore,
  int64Tensor,
  NAME_PREFIX,
  node,
  opsetVersion,
  setIntAttr,
  valueInfo,
  type GraphProto,
  type ModelProto,
  type NodeProto,
} from './graph.js';
import { describeIO, type DecoderIO, type IONameHints } from './io.js';
import { dropDeadNodes, groupQueryMatMuls, lastRowLogits } from './simplify.js';
import { addRestrictInputs, restrictGQA, restrictPlain } from './restrict.js';
import { lastRow, zeroAfter } from './rows.js';
import { inPlaceRefusal, placeRows, rewriteInPlace } from './gqaInPlace.js';
import { addHoles, plainInPlaceRefusal, splitSite, type Holes } from './plainInPlace.js';
import { RetrievalLensError } from '../shared/errors.js';
import type { AttentionNodeInfo } from './types.js';

export const HEAD_MASK = 'head_mask';
export const HEAD_MASK_UNIFORM = 'head_mask_uniform';
/** All layers' rows in one output, [batch, layers * heads, rows, kvLen]: one fetch per step. */
export const ALL_ATTENTIONS = 'attentions';
/** How many of the last query positions `attentions` holds, int64 [1]. */
export const ATTENTION_ROWS = 'attention_rows';
/** Bumped whenever the rewrite changes, so cached instrumented graphs are rebuilt. */
export const INSTRUMENT_VERSION = 15;

export interface InstrumentShape {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** A sliding window in use (config): plain attention then keeps the export's cache concatenation. */
  windowed: boolean;
}

export interface InstrumentResult {
  attention: AttentionNodeInfo[];
  /** Element type of activations / KV cache (DT.FLOAT or DT.FLOAT16). */
  activationType: number;
  io: DecoderIO;
  /** What the graph's weights and activations are: fp32, fp16, q4, q4f16, q8. */
  graphDtype: string;
}

const P = NAME_PREFIX;

function activationTypeOf(io: DecoderIO): number {
  return io.kvType === 'float16' ? DT.FLOAT16 : DT.FLOAT;
}

/** Graph-level scale tables, [layers, heads] floats: the factor for scores/queries and for head outputs. */
function addMaskTables(g: GraphProto, shape: InstrumentShape): { score: string; out: string } {
  g.input!.push(
    valueInfo(HEAD_MASK, DT.FLOAT, [shape.layers, shape.heads]),
    valueInfo(HEAD_MASK_UNIFORM, DT.FLOAT, [1]),
    valueInfo(ATTENTION_ROWS, DT.INT64, [1]),
  );
  g.initializer!.push(floatTensor(P + 'one', [1], []), int64Tensor(P + 'last_end', [2 ** 53 - 1]), int64Tensor(P + 'axis2', [2]));
  const t = (s: string) => P + s;
  // inv = 1 - mask; score = 1 - u*inv (uniform mode zeroes Q.K^T or Q); out = 1 - (1-u)*inv.
  g.node!.unshift(
    node('Neg', [ATTENTION_ROWS], [t('last_start')], t('last_start')),
    node('Sub', [t('one'), HEAD_MASK], [t('inv')], t('inv')),
    node('Mul', [t('inv'), HEAD_MASK_UNIFORM], [t('u_inv')], t('u_inv')),
    node('Sub', [t('one'), t('u_inv')], [t('score_scale')], t('score_scale')),
    node('Sub', [t('one'), HEAD_MASK_UNIFORM], [t('not_u')], t('not_u')),
    node('Mul', [t('inv'), t('not_u')], [t('z_inv')], t('z_inv')),
    node('Sub', [t('one'), t('z_inv')], [t('out_scale')], t('out_scale')),
  );
  return { score: t('score_scale'), out: t('out_scale') };
}

/** How a per-head factor must be laid out to broadcast against the tensor it scales. */
type VecLayout =
  | { kind: 'heads4d' } //                [1, heads, 1, 1] against [batch, heads, seq, *]
  | { kind: 'flat' } //                   [heads * headDim] against [batch, seq, heads * headDim]
  | { kind: 'packed'; tail: number } //   [heads * headDim + tail] against packed QKV [batch, seq, (heads + 2 kvHeads) * headDim]
  | { kind: 'packed5d' }; //              [heads, 3, 1] against MHA's packed [batch, seq, heads, 3, headDim]

/** What a rewrite of one attention site needs to know (restrict.ts rewrites the same sites). */
export interface SiteCtx {
  g: GraphProto;
  layer: number;
  t: (s: string) => string;
  shape: InstrumentShape;
  /** Activation element type, and whether CastLike exists (opset >= 15). */
  act: number;
  castLike: boolean;
  /**
   * An int64 zero computed from the previous layer's exposed rows, or null for the first layer.
   * Adding it to this layer's table index makes the layer wait for that slice: without the data
   * edge onnxruntime orders every slice after the last layer, so each layer's full probabilities
   * ([batch, heads, chunk, kvLen]) stay alive through the whole step — 24 of them on a 0.5B model,
   * a gigabyte at 4K tokens with 144-row prefill chunks.
   */
  after: string | null;
  /** GroupQueryAttention sites become plain ops reading the cache in place (gqaInPlace.ts). */
  inPlace: boolean;
  /** Plain sites reading the cache in place (plainInPlace.ts): what their columns stand for. */
  holes: Holes | null;
}

/** Nodes computing layer `layer`'s row of `table` in `layout`, typed like `like`; returns [nodes, name]. */
function headVector(c: SiteCtx, table: string, layout: VecLayout, like: string, tag: string): [NodeProto[], string] {
  const { heads, headDim } = c.shape;
  const t = (s: string) => c.t(`${tag}_${s}`);
  const init = c.g.initializer!;
  init.push(int64Tensor(t('layer'), [c.layer], []));
  const nodes: NodeProto[] = [];
  let index = t('layer');
  if (c.after) {
    nodes.push(node('Add', [index, c.after], [t('layer_after')], t('layer_after')));
    index = t('layer_after');
  }
  nodes.push(node('Gather', [table, index], [t('row')], t('gather'), { axis: 0 })); // [heads]
  let v = t('row');
  const reshape = (dims: number[], name: string) => {
    init.push(int64Tensor(t(`${name}_shape`), dims));
    nodes.push(node('Reshape', [v, t(`${name}_shape`)], [t(name)], t(name)));
    v = t(name);
  };
  if (layout.kind === 'heads4d') reshape([1, heads, 1, 1], 'r4');
  else if (layout.kind === 'packed5d') {
    reshape([heads, 1, 1], 'r3');
    init.push(floatTensor(t('kv_ones'), new Array(heads * 2).fill(1), [heads, 2, 1]));
    nodes.push(node('Concat', [v, t('kv_ones')], [t('qkv')], t('qkv'), { axis: 1 }));
    v = t('qkv');
  } else {
    reshape([heads, 1], 'col');
    init.push(int64Tensor(t('expand_shape'), [heads, headDim]));
    nodes.push(node('Expand', [v, t('expand_shape')], [t('expanded')], t('expand')));
    v = t('expanded');
    reshape([heads * headDim], 'flat');
    if (layout.kind === 'packed' && layout.tail > 0) {
      init.push(floatTensor(t('tail_ones'), new Array(layout.tail).fill(1)));
      nodes.push(node('Concat', [v, t('tail_ones')], [t('packed')], t('packed'), { axis: 0 }));
      v = t('packed');
    }
  }
  if (c.castLike) {
    nodes.push(node('CastLike', [v, like], [t('typed')], t('cast')));
    v = t('typed');
  } else if (c.act !== DT.FLOAT) {
    nodes.push(node('Cast', [v], [t('typed')], t('cast'), { to: c.act }));
    v = t('typed');
  }
  return [nodes, v];
}

/** Multiplies the input `index` of `n` by a per-head vector, inserted just before `n`. */
function scaleInput(c: SiteCtx, n: NodeProto, index: number, table: string, layout: VecLayout, tag: string): void {
  const x = n.input![index];
  const [nodes, vec] = headVector(c, table, layout, x, tag);
  const y = c.t(`${tag}_scaled`);
  nodes.push(node('Mul', [x, vec], [y], c.t(`${tag}_mul`)));
  insertBefore(c.g, n, nodes);
  n.input![index] = y;
}

/** Multiplies output `index` of `n` by a per-head vector: `n` now writes a raw tensor and a Mul restores the name. */
function scaleOutput(c: SiteCtx, n: NodeProto, index: number, table: string, layout: VecLayout, tag: string): void {
  const y = n.output![index];
  const raw = c.t(`${tag}_raw`);
  n.output![index] = raw;
  const [nodes, vec] = headVector(c, table, layout, raw, tag);
  nodes.push(node('Mul', [raw, vec], [y], c.t(`${tag}_mul`)));
  insertAfter(c.g, n, nodes);
}

function checkHeads(s: FusedSite, shape: InstrumentShape, layer: number): void {
  const n = s.node;
  const mismatch = (attr: string, graph: number, cfg: number, what: string) => {
    throw new RetrievalLensError(
      'CONFIG_MISMATCH',
      `the model config says ${cfg} ${what} but layer ${layer}'s ${s.form} node "${n.name}" has ${attr}=${graph}; the config does not describe this graph`,
    );
  };
  const q = attrNumber(n, s.form === 'Attention' ? 'q_num_heads' : 'num_heads');
  if (q !== undefined && q !== shape.heads)
    mismatch(s.form === 'Attention' ? 'q_num_heads' : 'num_heads', q, shape.heads, 'attention heads');
  const kv = attrNumber(n, s.form === 'Attention' ? 'kv_num_heads' : 'kv_num_heads');
  if (kv !== undefined && s.form !== 'MultiHeadAttention' && kv !== shape.kvHeads)
    mismatch('kv_num_heads', kv, shape.kvHeads, 'key/value heads');
}

/** Exposes an output slot of a fused node, returning its name. */
function optionalOutput(n: NodeProto, index: number, name: string): string {
  const outs = [...(n.output ?? [])];
  while (outs.length <= index) outs.push('');
  if (outs[index])
    throw new RetrievalLensError(
      'UNSUPPORTED_ARCHITECTURE',
      `the ${n.opType} node "${n.name}" already writes its attention scores to "${outs[index]}"; this graph is not supported`,
    );
  outs[index] = name;
  n.output = outs;
  return name;
}

function instrumentFused(c: SiteCtx, s: FusedSite, tables: { score: string; out: string }): string {
  const n = s.node;
  const { heads, kvHeads, headDim } = c.shape;
  checkHeads(s, c.shape, c.layer);
  const empty = (i: number) => !(n.input?.[i] ?? '');
  if (s.form === 'GroupQueryAttention') {
    const packed = empty(1);
    scaleInput(c, n, 0, tables.score, packed ? { kind: 'packed', tail: 2 * kvHeads * headDim } : { kind: 'flat' }, 'q');
    if (c.inPlace) {
      const site = rewriteInPlace(c, n, true);
      scaleOutput(c, site.output, 0, tables.out, { kind: 'flat' }, 'out');
      return site.rows;
    }
    scaleOutput(c, n, 0, tables.out, { kind: 'flat' }, 'out');
    restrictGQA(c, n);
    setIntAttr(n, 'qk_output', 2);
    return lastRow(c, optionalOutput(n, 3, c.t('probs')), n, false);
  }
  if (s.form === 'MultiHeadAttention') {
    const packed5d = empty(1);
    scaleInput(c, n, 0, tables.score, packed5d ? { kind: 'packed5d' } : { kind: 'flat' }, 'q');
    // The op adds its bias input to Q inside: that bias's Q part must be scaled too.
    if (!empty(3)) {
      if (packed5d)
        throw new RetrievalLensError(
          'UNSUPPORTED_ARCHITECTURE',
          `the MultiHeadAttention node "${n.name}" has packed QKV and a bias; this layout is not supported`,
        );
      scaleInput(c, n, 3, tables.score, { kind: 'packed', tail: 2 * heads * headDim }, 'qbias');
    }
    scaleOutput(c, n, 0, tables.out, { kind: 'flat' }, 'out');
    // qk is the scaled scores with the mask added, before the softmax. onnxruntime cannot infer
    // its type (its constraint is separate from the op's other outputs): declare it.
    const qk = optionalOutput(n, 3, c.t('scores'));
    c.g.valueInfo = [...(c.g.valueInfo ?? []), onnx.ValueInfoProto.create({ name: qk, type: { tensorType: { elemType: c.act } } })];
    return lastRow(c, qk, n, true);
  }
  // ONNX Attention: 4-D Q [batch, heads, seq, headDim], or 3-D [batch, seq, heads*headDim] with q_num_heads.
  const layout: VecLayout = attrNumber(n, 'q_num_heads') !== undefined ? { kind: 'flat' } : { kind: 'heads4d' };
  scaleInput(c, n, 0, tables.score, layout, 'q');
  scaleOutput(c, n, 0, tables.out, layout, 'out');
  setIntAttr(n, 'qk_matmul_output_mode', 3);
  return lastRow(c, optionalOutput(n, 3, c.t('probs')), n, false);
}

function instrumentPlain(c: SiteCtx, s: Extract<AttentionSite, { form: 'plain' }>, tables: { score: string; out: string }): string {
  // Uniform mode: raw Q.K^T times 0 for masked heads; after scaling, softcap and the causal mask
  // the softmax is uniform over the visible positions, exactly what zeroing the query does.
  scaleOutput(c, s.scoreMatMul, 0, tables.score, { kind: 'heads4d' }, 'scores');
  // Zero mode: the head outputs [batch, heads, q, headDim] times 0.
  scaleOutput(c, s.valueMatMul, 0, tables.out, { kind: 'heads4d' }, 'heads');
  if (!c.holes) {
    restrictPlain(c, s.softmax);
    return lastRow(c, s.softmax.output![0], s.softmax, false);
  }
  const h = c.holes;
  restrictPlain(c, s.softmax, { positions: h.columnPositions, T: h.T });
  // The rows as positions: cached columns, then the new ones right after each row's own.
  const row = lastRow(c, s.softmax.output![0], s.softmax, false); // [batch, heads, rows, cap + S]
  const cast = c.g.node!.find((n) => n.output?.includes(row))!;
  insertAfter(c.g, cast, placeRows(c.t, row, h.pastB1, h.S, h.cap, h.T, c.t('row_placed')));
  return c.t('row_placed'); // [batch, heads, rows, T]
}

/** What a site is, read before the rewrite changes its node. */
function siteInfo(s: AttentionSite, layer: number): AttentionNodeInfo {
  const caveat = uniformMaskCaveat(s);
  const base: AttentionNodeInfo =
    s.form === 'plain'
      ? {
          layer,
          form: 'plain',
          node: s.softmax.name ?? '',
          scoreMatMul: s.scoreMatMul.name ?? '',
          valueMatMul: s.valueMatMul.name ?? '',
          casts: s.casts,
        }
      : { layer, form: s.form, node: s.node.name ?? '' };
  if (caveat) base.uniformCaveat = caveat;
  if (s.form !== 'plain' && s.form !== 'GroupQueryAttention')
    base.restrictCaveat = `${s.form} takes its masks in other shapes; restricting a head to a sink and a window is supported for plain attention and GroupQueryAttention`;
  return base;
}

/** Instruments `model` in place. */
export function instrumentModel(model: ModelProto, shape: InstrumentShape, hints: IONameHints = {}): InstrumentResult {
  const g = model.graph;
  if (!g || !g.node?.length) throw new RetrievalLensError('CORRUPT_ONNX', 'the ONNX file has no graph');
  const opset = opsetVersion(model);
  if (opset && opset < 13)
    throw new RetrievalLensError('UNSUPPORTED_ARCHITECTURE', `opset ${opset} is too old; opset 13 or later is needed`);
  if ((g.input ?? []).some((i) => i.name === HEAD_MASK)) throw new RetrievalLensError('BAD_INPUT', 'this graph is already instrumented');
  const io = describeIO(g, shape.layers, hints);
  if (io.headDim !== null && io.headDim !== shape.headDim) {
    throw new RetrievalLensError(
      'CONFIG_MISMATCH',
      `the model config says head dim ${shape.headDim} but the graph's KV cache has ${io.headDim}; the config does not describe this graph`,
    );
  }
  if (io.kvHeads !== null && io.kvHeads !== shape.kvHeads && io.kvHeads !== shape.heads) {
    throw new RetrievalLensError(
      'CONFIG_MISMATCH',
      `the model config says ${shape.kvHeads} key/value heads but the graph's KV cache has ${io.kvHeads}; the config does not describe this graph`,
    );
  }
  const act = activationTypeOf(io);
  const { graphs, ifNode } = attentionGraphs(g);
  const siteLists = graphs.map((sg) => findAttentionSites(sg, shape.layers));
  const infos = siteLists[0].map(siteInfo);
  // All or none: the runner keeps one kind of cache for the whole graph.
  const sites = siteLists[0];
  const plainSites = sites.filter((s): s is PlainSite => s.form === 'plain');
  const inPlace = !ifNode && sites.length > 0 && sites.every((s) => s.form === 'GroupQueryAttention' && !inPlaceRefusal(g, s.node, act));
  const plainRefusal =
    ifNode || !sites.length || plainSites.length < sites.length
      ? 'not all plain attention in one graph'
      : plainInPlaceRefusal(g, plainSites, io, shape.heads, shape.kvHeads, shape.windowed);
  if (inPlace || !plainRefusal) infos.forEach((i) => (i.inPlace = true));
  const tables = addMaskTables(g, shape);
  addRestrictInputs(g, shape);
  const holes = plainRefusal ? null : addHoles(model, io, shape);
  const castLike = opset >= 15;
  const rowNames = graphs.map((sg, b) => {
    const tag = graphs.length > 1 ? `b${b}/` : '';
    let after: string | null = null;
    const rows = siteLists[b].map((s, layer) => {
      const t = (x: string) => `${P}${tag}L${layer}/${x}`;
      const c: SiteCtx = { g: sg, layer, t, shape, act, castLike, after, inPlace, holes };
      const row = s.form === 'plain' ? instrumentPlain(c, s, tables) : instrumentFused(c, s, tables);
      after = zeroAfter(sg, row, t);
      return row;
    });
    const plain = siteLists[b].filter((s): s is PlainSite => s.form === 'plain');
    groupQueryMatMuls(sg, plain, shape.heads, shape.kvHeads, tag);
    if (holes) plain.forEach((s, layer) => splitSite(sg, s, io, holes, `${tag}L${layer}/`));
    return rows;
  });
  // Each graph concatenates its own rows; an If re-exports its branches' result.
  const concat = (sg: GraphProto, rows: string[], out: string) =>
    sg.node!.push(node('Concat', rows, [out], `${P}concat_attentions${out === ALL_ATTENTIONS ? '' : '_' + out}`, { axis: 1 }));
  const dims = ['batch_size', shape.layers * shape.heads, 'attention_rows', 'total_sequence_length'];
  const outInfo = () => valueInfo(ALL_ATTENTIONS, DT.FLOAT, dims);
  if (ifNode) {
    graphs.forEach((sg, b) => {
      concat(sg, rowNames[b], `${P}b${b}/attentions`);
      sg.output!.push(valueInfo(`${P}b${b}/attentions`, DT.FLOAT, dims));
    });
    ifNode.output!.push(ALL_ATTENTIONS);
  } else concat(g, rowNames[0], ALL_ATTENTIONS);
  g.output!.push(outInfo());
  if (!ifNode) lastRowLogits(g, io.logits);
  graphs.forEach(dropDeadNodes);
  if (ifNode) dropDeadNodes(g);
  return { activationType: act, io, graphDtype: graphDtypeOf(model, act === DT.FLOAT16), attention: infos };
}
