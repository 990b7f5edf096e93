// Thin helpers over onnx-proto's generated classes: building nodes and constant tensors, and
// the producer/consumer maps that graph surgery needs.
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type ModelProto = onnxProto.onnx.ModelProto;

export const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** Ops that compute attention inside one kernel. Some expose their probabilities (see attention.ts). */
export const FUSED_ATTENTION_OPS = new Set([
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'SparseAttention',
  'DecoderMaskedMultiHeadAttention',
  'DecoderMaskedSelfAttention',
  'PagedAttention',
  'QAttention',
  'LongformerAttention',
  'DecoderAttention',
]);

/** "com.microsoft.GroupQueryAttention", or just the op type in the default domain. */
export function qualifiedOp(n: NodeProto): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '');
}

export function isDefaultDomain(n: NodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

/** An INT or FLOAT attribute's value, or undefined. */
export function attrNumber(n: NodeProto, name: string): number | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  if (!a) return undefined;
  if (a.type === AT.INT) return Number(a.i ?? 0);
  if (a.type === AT.FLOAT) return Number(a.f ?? 0);
  return undefined;
}

export function setIntAttr(n: NodeProto, name: string, value: number): void {
  const attrs = (n.attribute ?? []).filter((x) => x.name !== name);
  attrs.push(onnx.AttributeProto.create({ name, type: AT.INT, i: value }));
  n.attribute = attrs;
}

/** The model's opset for a domain ('' = the default ONNX domain), or 0 when it imports none. */
export function opsetVersion(model: ModelProto, domain = ''): number {
  const o = (model.opsetImport ?? []).find((x) => (x.domain ?? '') === domain || (domain === '' && x.domain === 'ai.onnx'));
  return o ? Number(o.version) : 0;
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attrs: Record<string, number | number[]> = {},
): NodeProto {
  const attribute = Object.entries(attrs).map(([k, v]) =>
    Array.isArray(v)
      ? onnx.AttributeProto.create({ name: k, type: AT.INTS, ints: v })
      : onnx.AttributeProto.create({ name: k, type: AT.INT, i: v }),
  );
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name, attribute });
}

export function int64Tensor(name: string, values: number[], dims: number[] = [values.length]) {
  const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
  return onnx.TensorProto.create({ name, dims, dataType: DT.INT64, rawData: raw });
}

export function floatTensor(name: string, values: number[], dims: number[] = [values.length]) {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, rawData: raw });
}

export function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

export function elemTypeOf(info: onnxProto.onnx.IValueInfoProto | undefined): number | undefined {
  return info?.type?.tensorType?.elemType ?? undefined;
}

/** A branch of an If: its nodes and the tensors it hands out, declared float of any shape. */
export interface Branch {
  nodes: NodeProto[];
  outputs: string[];
}

/** If(cond) writing `outputs`: `then` when cond holds, else `otherwise`, each branch's outputs in order. */
export function ifNode(name: string, cond: string, outputs: string[], then: Branch, otherwise: Branch): NodeProto {
  const graph = (b: Branch, tag: string) =>
    onnx.AttributeProto.create({
      name: `${tag}_branch`,
      type: AT.GRAPH,
      g: onnx.GraphProto.create({
        name: `${name}/${tag}`,
        node: b.nodes,
        output: b.outputs.map((o) => onnx.ValueInfoProto.create({ name: o, type: { tensorType: { elemType: DT.FLOAT } } })),
      }),
    });
  const n = node('If', [cond], outputs, name);
  n.attribute = [graph(then, 'then'), graph(otherwise, 'else')];
  return n;
}

/** Subgraphs held by a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphs(n: NodeProto): GraphProto[] {
  const out: GraphProto[] = [];
  for (const a of n.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

export interface GraphIndex {
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
  initializers: Set<string>;
}

export function indexGraph(g: GraphProto): GraphIndex {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  return { producer, consumers, initializers };
}

/** Prefix of every name the rewrite adds, so its nodes and tensors never collide with the export's. */
export const NAME_PREFIX = 'retrieval_lens/';

/** Inserts `nodes` right after `anchor` so the node list stays topologically sorted. */
export function insertAfter(g: GraphProto, anchor: NodeProto, nodes: NodeProto[]): void {
  g.node!.splice(g.node!.indexOf(anchor) + 1, 0, ...nodes);
}

export function insertBefore(g: GraphProto, anchor: NodeProto, nodes: NodeProto[]): void {
  g.node!.splice(g.node!.indexOf(anchor), 0, ...nodes);
}

/** The graph's precision (activations in half precision or not), named as transformers.js names its variants. */
export function graphDtypeOf(model: ModelProto, half: boolean): string {
  const ops = new Map<string, NodeProto>();
  const visit = (g: GraphProto | null | undefined) => {
    for (const n of g?.node ?? []) {
      if (!ops.has(n.opType ?? '')) ops.set(n.opType ?? '', n);
      for (const a of n.attribute ?? []) {
        visit(a.g);
        a.graphs?.forEach(visit);
      }
    }
  };
  visit(model.graph);
  const nbits = ops.get('MatMulNBits');
  if (nbits) {
    const bits = attrNumber(nbits, 'bits') ?? 4;
    return bits === 4 ? (half ? 'q4f16' : 'q4') : `int${bits}${half ? 'f16' : ''}`;
  }
  if (ops.has('MatMulBnb4')) return 'bnb4';
  if (ops.has('MatMulInteger') || ops.has('DynamicQuantizeLinear') || ops.has('QLinearMatMul')) return 'q8';
  return half ? 'fp16' : 'fp32';
}
