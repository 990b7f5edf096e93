// Decoding several prompts as one batch. Decoding is bound by reading the weights, so B rows cost
// little more than one: a detection grid decodes a length's cases together, as many as a KV budget
// holds. Each prompt is prefilled on its own (with the shared-prefix cache), then the caches are
// gathered into one batch cache (kv.ts): aligned on the right for graphs fed position_ids (left
// padding, masked out by attention_mask 0), on the left for GroupQueryAttention's shared buffers
// (right padding: the op places each row's new token after that row's own length). probeBatching
// checks on the graph itself that a batch gives what single rows give; graphs where it does not
// decode one row at a time.
import { inPlaceMode, kvBytesPerPosition, KVCache, type KVMode, type KVShape } from './kv.js';
import { Sequence, type Runner } from './runner.js';
import { makeSampler } from './sampling.js';
import { cancelled } from '../shared/errors.js';
import { finish, pickToken, prefillPrompt, prepare } from './generate.js';
import type { AttentionNodeInfo, GenerateOptions, GenerateResult, GenerateStep, ModelInfo, TextTokenizer } from './types.js';

/**
 * KV-cache bytes one decoding batch may hold. Rows past the first few add little to a step (the
 * weights are read once for all), but each holds its own cache: a budget rather than a row count
 * keeps a grid of 32K prompts as bounded as one of 1K prompts.
 */
export const BATCH_KV_BUDGET_BYTES = 512 * 1024 * 1024;

/** Rows of `tokens` positions whose caches fit the budget together (at least 1). */
export function batchRowsFor(shape: KVShape, tokens: number, budget = BATCH_KV_BUDGET_BYTES): number {
  return Math.max(1, Math.floor(budget / (kvBytesPerPosition(shape) * Math.max(tokens, 1))));
}

/** One step of a batch cache: every row feeds its token; the mask marks each row's real positions. */
async function batchStep(
  runner: Runner,
  kv: KVCache,
  tokens: number[],
  opts: { mask?: Float32Array | null; uniform?: boolean; attention: boolean },
) {
  const B = kv.batch;
  const total = kv.length + 1;
  const grown = kv.lengths.map((n) => n + 1);
  const cols = grown.map((n) => (inPlaceMode(kv.mode) ? { start: 0, end: n } : { start: total - n, end: total }));
  const attentionMask = cols.flatMap((c) => Array.from({ length: total }, (_, j) => (j >= c.start && j < c.end ? 1 : 0)));
  const { past, present } = kv.tensors(1);
  const out = await runner.step({
    ids: tokens,
    batch: B,
    n: 1,
    attentionMask,
    positions: kv.lengths.slice(),
    past,
    presentInto: present,
    mask: opts.mask,
    uniform: opts.uniform,
    logits: true,
    attention: opts.attention,
  });
  kv.commit(1, out.present);
  return { out, total, cols };
}

/**
 * Decodes already-prefilled sequences together; `first` are the tokens each row feeds first.
 * Empties `seqs` once their caches are gathered into the batch's.
 */
async function decodeTogether(
  runner: Runner,
  seqs: Sequence[],
  first: number[],
  maxNew: number[],
  opts: GenerateOptions,
  mask: Float32Array | null,
  uniform: boolean,
  stops: Set<number>,
  eos: Set<number>,
  onStep: (row: number, step: GenerateStep, i: number) => void,
): Promise<{ tokens: number[][]; steps: GenerateStep[][]; stoppedBy: GenerateResult['stoppedBy'][] }> {
  const B = seqs.length;
  const { layers, heads } = runner.shape;
  const kv = KVCache.gather(
    runner.shape,
    runner.kvMode,
    seqs.map((s) => ({ cache: s.kv, row: 0, n: s.length })),
    Math.max(...maxNew) + 1,
  );
  // The rows' own caches are copied: let them go now rather than hold the batch's KV twice.
  seqs.length = 0;
  const sample = makeSampler(opts.sampling);
  const tokens: number[][] = Array.from({ length: B }, () => []);
  const steps: GenerateStep[][] = Array.from({ length: B }, () => []);
  const stoppedBy: GenerateResult['stoppedBy'][] = Array.from({ length: B }, () => 'max-tokens');
  const live = maxNew.map((m) => m > 0);
  const input = [...first];
  const LH = layers * heads;
  // Each row's attention, [layers * heads, kvLen]: one buffer per row for the whole run unless the
  // caller keeps the steps (onStep's rows are valid during the call only), as a fresh array per
  // row and step was most of this loop's own time at 2K-4K tokens.
  const own = kv.lengths.map((n, b) => (opts.keepAttention ? null : new Float32Array(LH * (n + maxNew[b] + 1))));
  for (let i = 0; live.some(Boolean); i++) {
    if (opts.signal?.aborted) throw cancelled();
    const positions = kv.lengths.slice();
    const { out, total, cols } = await batchStep(runner, kv, input, { mask, uniform, attention: Boolean(opts.attention) });
    for (let b = 0; b < B; b++) {
      if (!live[b]) continue;
      const token = pickToken(sample, out.logits![b], positions[b]);
      const step: GenerateStep = { token, position: positions[b] };
      if (out.attention) {
        // Row b's own positions only: [layers * heads, kvLen].
        const { start, end } = cols[b];
        const kvLen = end - start;
        const rows = own[b]?.subarray(0, LH * kvLen) ?? new Float32Array(LH * kvLen);
        for (let lh = 0; lh < LH; lh++)
          rows.set(out.attention.subarray((b * LH + lh) * total + start, (b * LH + lh) * total + end), lh * kvLen);
        step.attention = { kvLen, rows };
      }
      onStep(b, step, i);
      if (!opts.keepAttention) delete step.attention;
      steps[b].push(step);
      tokens[b].push(token);
      input[b] = token;
      if (stops.has(token)) {
        stoppedBy[b] = eos.has(token) ? 'eos' : 'stop-token';
        live[b] = false;
      } else if (tokens[b].length >= maxNew[b]) live[b] = false;
    }
  }
  return { tokens, steps, stoppedBy };
}

/**
 * Greedy (or sampled) generation of several prompts with the same options, decoded as one batch when
 * the runner supports it, else one after the other. onRowStep receives (step, index, row).
 */
export async function generateBatch(
  runner: Runner,
  batchable: boolean,
  info: ModelInfo,
  tokenizer: TextTokenizer,
  prompts: number[][],
  opts: GenerateOptions & { onRowStep?: (step: GenerateStep, index: number, row: number) => void } = {},
  sites: AttentionNodeInfo[] = [],
): Promise<GenerateResult[]> {
  const prepared = prompts.map((p) => prepare(info, p, opts, sites));
  const { mask, uniform, prefillMask, stops, eos } = prepared[0];
  if (opts.signal?.aborted) throw cancelled();
  const groups = batchable ? [prompts.map((_, b) => b)] : prompts.map((_, b) => [b]);
  const results: GenerateResult[] = new Array(prompts.length);
  for (const g of groups) {
    // Prefilled just before decoding, so one row at a time holds only its own cache.
    const seqs: Sequence[] = [];
    for (const b of g) seqs.push(await prefillPrompt(runner, prompts[b], opts, prefillMask, uniform, prepared[b].maxNew));
    const r = await decodeTogether(
      runner,
      seqs,
      g.map((b) => prompts[b][prompts[b].length - 1]),
      g.map((b) => prepared[b].maxNew),
      opts,
      mask,
      uniform,
      stops,
      eos,
      (row, step, i) => opts.onRowStep?.(step, i, g[row]),
    );
    g.forEach((b, row) => (results[b] = finish(tokenizer, prompts[b], r.tokens[row], r.steps[row], r.stoppedBy[row], eos)));
  }
  return results;
}

const PROBE_PROMPTS = [
  [3, 4, 5, 6, 7, 8, 9],
  [10, 11, 12],
];

function close(a: Float32Array, b: Float32Array): boolean {
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst <= 1e-3 * scale;
}

/** Each probe prompt alone: its last logits after a prefill of all but the last token. */
async function aloneLogits(runner: Runner, vocab: number): Promise<{ prompts: number[][]; seqs: Sequence[]; logits: Float32Array[] }> {
  const prompts = PROBE_PROMPTS.map((p) => p.map((t) => t % vocab));
  const seqs: Sequence[] = [];
  const logits: Float32Array[] = [];
  for (const p of prompts) {
    const s = runner.newSequence();
    await s.forward(p.slice(0, -1), { logits: false });
    seqs.push(s);
    const f = s.fork(s.length, 1);
    logits.push((await f.forward([p[p.length - 1]])).logits!);
  }
  return { prompts, seqs, logits };
}

/**
 * The KV storage this graph allows (kv.ts), checked by running it: shared buffers for
 * GroupQueryAttention graphs, ping-pong buffers for the others, onnxruntime's own allocations when
 * preallocated outputs do not give the same logits.
 */
export async function chooseKVMode(runner: Runner, sites: AttentionNodeInfo[], vocab: number): Promise<KVMode> {
  // Rewritten GroupQueryAttention returns only the new positions (the Runner reads that off its
  // session): no other storage fits it.
  if (runner.kvMode === 'append') return 'append';
  const saved = runner.kvMode;
  runner.kvMode = 'fresh';
  const want = await aloneLogits(runner, vocab);
  const candidate: KVMode = sites.length && sites.every((s) => s.form === 'GroupQueryAttention') ? 'shared' : 'pingpong';
  runner.kvMode = candidate;
  try {
    const got = await aloneLogits(runner, vocab);
    if (got.logits.every((l, i) => close(l, want.logits[i]))) return candidate;
  } catch {
    // preallocated outputs refused: onnxruntime allocates
  } finally {
    runner.kvMode = saved;
  }
  return 'fresh';
}

/**
 * Whether a batch gives what single rows give on this graph (in its KV mode): two prompts of
 * different lengths decoded together must match their own logits.
 */
export async function probeBatching(runner: Runner, vocab: number): Promise<boolean> {
  if (!inPlaceMode(runner.kvMode) && (!runner.io.positionIds || !runner.io.attentionMask)) return false;
  if (!runner.io.attentionMask) return false;
  const { prompts, seqs, logits } = await aloneLogits(runner, vocab);
  const kv = KVCache.gather(
    runner.shape,
    runner.kvMode,
    seqs.map((s) => ({ cache: s.kv, row: 0, n: s.length })),
    1,
  );
  const { out } = await batchStep(
    runner,
    kv,
    prompts.map((p) => p[p.length - 1]),
    { attention: false },
  );
  return out.logits!.every((l, b) => close(l, logits[b]));
}

/**
 * Whether a graph reading the cache in place ignores the cache's unused columns, checked by
 * running it: the same step with those columns zero and full of large values must give the same
 * logits. A plain-attention export masks them through attention_mask (plainInPlace.ts); one whose
 * mask ignores attention_mask would attend to them.
 */
export async function ignoresUnusedColumns(runner: Runner, vocab: number): Promise<boolean> {
  const ids = PROBE_PROMPTS[0].map((t) => t % vocab);
  const seq = runner.newSequence();
  await seq.forward(ids.slice(0, -1), { logits: false });
  const run = async (fill: number) => {
    const kv = seq.kv.copyPrefix(seq.length, 0, 1);
    // The views the step will be fed (tensors() of the same step hands out the same buffers).
    const { past } = kv.tensors(1);
    const [, kvHeads, cap, headDim] = past[0].dims;
    for (const t of past) {
      const data = t.data as Float32Array;
      for (let h = 0; h < kvHeads; h++) data.fill(fill, (h * cap + seq.length) * headDim, (h + 1) * cap * headDim);
    }
    return (await new Sequence(runner, kv).forward(ids.slice(-1))).logits!;
  };
  return close(await run(1), await run(0));
}
