// Thin helpers over onnx-proto's generated classes: building nodes and constant tensors, and
// the producer/consumer maps that graph surgery needs.
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type ModelProto = onnxProto.onnx.ModelProto;

export const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** Ops that compute attention inside one kernel, so its probabilities are never a tensor. */
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
]);

export function node(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, number | number[]> = {}): NodeProto {
  const attribute = Object.entries(attrs).map(([k, v]) =>
    Array.isArray(v) ? onnx.AttributeProto.create({ name: k, type: AT.INTS, ints: v }) : onnx.AttributeProto.create({ name: k, type: AT.INT, i: v }),
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
