// Checks every graph that reads its KV cache in place must pass (mode 'append', kv.ts): it gives
// the original graph's logits and caches through chunked prefill and decoding, a decoding step
// hands back one position per KV head, and rows of different lengths decoded as one batch give
// what each gives alone.
import assert from 'node:assert/strict';
import { KVCache } from '../../src/engine/kv.js';
import type { Runner, RunnerShape, Sequence } from '../../src/engine/runner.js';
import { maxAbsDiff } from './runners.js';

/**
 * Feeds `ids` to both sequences in chunks of the given ends (straddling the fixtures' window of 8
 * and their 9-row join threshold, then single steps): the same logits and the same cache.
 */
export async function checkChunkedAgainst(mine: Sequence, theirs: Sequence, ids: number[], ends: number[]): Promise<void> {
  let worst = 0;
  let from = 0;
  for (const to of ends) {
    const x = await mine.forward(ids.slice(from, to));
    const y = await theirs.forward(ids.slice(from, to));
    worst = Math.max(worst, maxAbsDiff(x.logits!, y.logits!));
    from = to;
  }
  assert.ok(worst < 1e-4, `max |logit diff| ${worst}`);
  const { layers, kvHeads } = mine.runner.shape;
  for (let k = 0; k < 2 * layers; k++)
    for (let h = 0; h < kvHeads; h++)
      assert.ok(maxAbsDiff(mine.kv.rowData(0, k)[h], theirs.kv.rowData(0, k)[h]) < 1e-5, `layer tensor ${k} head ${h}`);
}

/** `seq` holds at least `lengths`' largest; `token` is fed to each row. */
export async function checkAppendSteps(inst: Runner, shape: RunnerShape, seq: Sequence, lengths: number[], token: number): Promise<void> {
  const { past } = seq.kv.tensors(1);
  const step = await inst.step({
    ids: [token],
    batch: 1,
    n: 1,
    attentionMask: seq.length + 1,
    positions: [seq.length],
    past,
    presentInto: null,
    logits: true,
    attention: true,
  });
  assert.deepEqual(step.present[0].dims, [1, shape.kvHeads, 1, shape.headDim]);
  assert.equal(step.kvLen, seq.length + 1);
  const rows = lengths.map((n) => seq.fork(n));
  const alone: Float32Array[] = [];
  for (const r of rows) alone.push((await r.fork(r.length, 1).forward([token])).logits!);
  const kv = KVCache.gather(
    shape,
    'append',
    rows.map((r) => ({ cache: r.kv, row: 0, n: r.length })),
    1,
  );
  const total = kv.length + 1;
  const out = await inst.step({
    ids: rows.map(() => token),
    batch: rows.length,
    n: 1,
    attentionMask: rows.flatMap((r) => Array.from({ length: total }, (_, j) => (j <= r.length ? 1 : 0))),
    positions: rows.map((r) => r.length),
    past: kv.tensors(1).past,
    presentInto: null,
    logits: true,
    attention: false,
  });
  out.logits!.forEach((l, b) => assert.ok(maxAbsDiff(l, alone[b]) < 1e-4, `batch row ${b} (${lengths[b]} positions)`));
}
