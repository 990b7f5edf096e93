// The exposed rows of each layer's attention: the last `attention_rows` query rows sliced off the
// probabilities, and the data edge that makes the next layer wait for them (so each layer's full
// [batch, heads, q, kvLen] probabilities are freed before the next layer allocates its own).
import { DT, insertAfter, NAME_PREFIX, node, type GraphProto, type NodeProto } from './graph.js';
import type { SiteCtx } from './instrument.js';

const P = NAME_PREFIX;

/** An int64 scalar 0 that exists only once `row` does: Size reads no data, and Size - Size is exact. */
export function zeroAfter(g: GraphProto, row: string, t: (s: string) => string): string {
  const producer = g.node!.find((n) => n.output?.includes(row))!;
  insertAfter(g, producer, [
    node('Size', [row], [t('row_size')], t('row_size')),
    node('Sub', [t('row_size'), t('row_size')], [t('row_zero')], t('row_zero')),
  ]);
  return t('row_zero');
}

/** Slices the last `attention_rows` query rows of a [batch, heads, q, kvLen] tensor, as float. */
export function lastRow(c: SiteCtx, probs: string, anchor: NodeProto, softmax: boolean): string {
  const t = c.t;
  const nodes = [node('Slice', [probs, P + 'last_start', P + 'last_end', P + 'axis2'], [t('last')], t('slice_last'))];
  let last = t('last');
  if (softmax) {
    nodes.push(node('Softmax', [last], [t('last_probs')], t('softmax_last'), { axis: -1 }));
    last = t('last_probs');
  }
  // fp16 graphs: one conversion of the sliced rows, not of every head's full matrix.
  nodes.push(node('Cast', [last], [t('row')], t('row_float'), { to: DT.FLOAT }));
  insertAfter(c.g, anchor, nodes);
  return t('row');
}
