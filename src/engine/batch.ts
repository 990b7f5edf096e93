// Decoding several prompts as one batch. Decoding is bound by reading the weights, so B rows cost
// little more than one: a detection cell's needles decode together. Each prompt is prefilled on
// its own (with the shared-prefix cache), then the caches are padded on the LEFT to one length —
// padding masked out by attention_mask 0, real positions given by position_ids — so every row's
// new token lands in the same column. Graphs that derive positions from the mask
// (GroupQueryAttention) or ignore the mask cannot do this; probeBatching finds out by running it.
import { ort, type Tensor } from './session.js';
import type { Runner, Sequence } from './runner.js';
import { makeSampler } from './sampling.js';
import { cancelled } from './errors.js';
import { finish, prefillPrompt, prepare } from './generate.js';
import type { AttentionNodeInfo, GenerateOptions, GenerateResult, GenerateStep, ModelInfo, TextTokenizer } from './types.js';

/** [1, kvHeads, len, headDim] caches of each sequence, left-padded into [batch, kvHeads, T, headDim]. */
function padPasts(runner: Runner, seqs: Sequence[], T: number): Tensor[] {
  const { layers, kvHeads, headDim, kvType } = runner.shape;
  const B = seqs.length;
  return Array.from({ length: layers * 2 }, (_, k) => {
    const dst = kvType === 'float16' ? new Uint16Array(B * kvHeads * T * headDim) : new Float32Array(B * kvHeads * T * headDim);
    seqs.forEach((s, b) => {
      const src = s.past[k].data as Float32Array | Uint16Array;
      const n = s.length;
      for (let h = 0; h < kvHeads; h++) dst.set(src.subarray(h * n * headDim, (h + 1) * n * headDim), ((b * kvHeads + h) * T + (T - n)) * headDim);
    });
    return new ort.Tensor(kvType, dst, [B, kvHeads, T, headDim]);
  });
}

/** Decodes already-prefilled sequences together; `first` are the tokens each row feeds first. */
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
  const lens = seqs.map((s) => s.length);
  const T = Math.max(...lens);
  let past = padPasts(runner, seqs, T);
  const sample = makeSampler(opts.sampling);
  const tokens: number[][] = seqs.map(() => []);
  const steps: GenerateStep[][] = seqs.map(() => []);
  const stoppedBy: GenerateResult['stoppedBy'][] = seqs.map(() => 'max-tokens');
  const live = seqs.map((_, b) => maxNew[b] > 0);
  let input = [...first];
  for (let i = 0; live.some(Boolean); i++) {
    if (opts.signal?.aborted) throw cancelled();
    const total = T + i + 1;
    const attentionMask = seqs.flatMap((_, b) => Array.from({ length: total }, (_, j) => (j < T - lens[b] ? 0 : 1)));
    const out = await runner.step({ ids: input, batch: B, n: 1, attentionMask, positions: lens.map((n) => n + i), past, mask, uniform, logits: true, attention: Boolean(opts.attention) });
    past = out.present;
    const LH = layers * heads;
    for (let b = 0; b < B; b++) {
      if (!live[b]) continue;
      const token = sample(out.logits![b]);
      const step: GenerateStep = { token, position: lens[b] + i };
      if (out.attention) {
        // Row b without its left padding: [layers * heads, kvLen].
        const pad = T - lens[b];
        const kv = total - pad;
        const rows = new Float32Array(LH * kv);
        for (let lh = 0; lh < LH; lh++) rows.set(out.attention.subarray((b * LH + lh) * total + pad, (b * LH + lh + 1) * total), lh * kv);
        step.attention = { kvLen: kv, rows };
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
    input = [...input];
  }
  return { tokens, steps, stoppedBy };
}

/**
 * Greedy (or sampled) generation of several prompts with the same options, decoded as one batch when
 * the runner supports it, else one after the other. onStep receives (step, index, row).
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
  const seqs: Sequence[] = [];
  for (const p of prompts) seqs.push(await prefillPrompt(runner, p, opts, prefillMask, uniform));
  const groups = batchable ? [prompts.map((_, b) => b)] : prompts.map((_, b) => [b]);
  const results: GenerateResult[] = new Array(prompts.length);
  for (const g of groups) {
    const r = await decodeTogether(
      runner,
      g.map((b) => seqs[b]),
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

/**
 * Whether left-padded batches give what single rows give on this graph: two prompts of different
 * lengths decoded together must match their own greedy logits. GroupQueryAttention derives
 * positions from the mask's sum and some exports ignore padding: those decode one row at a time.
 */
export async function probeBatching(runner: Runner, vocab: number): Promise<boolean> {
  if (!runner.io.positionIds || !runner.io.attentionMask) return false;
  const prompts = [
    [3, 4, 5, 6, 7, 8, 9],
    [10, 11, 12],
  ].map((p) => p.map((t) => t % vocab));
  const alone: Float32Array[] = [];
  for (const p of prompts) {
    const s = runner.newSequence();
    alone.push((await s.forward(p)).logits!);
  }
  const seqs: Sequence[] = [];
  for (const p of prompts) {
    const s = runner.newSequence();
    await s.forward(p.slice(0, -1), { logits: false });
    seqs.push(s);
  }
  const lens = seqs.map((s) => s.length);
  const T = Math.max(...lens);
  const out = await runner.step({
    ids: prompts.map((p) => p[p.length - 1]),
    batch: 2,
    n: 1,
    attentionMask: lens.flatMap((n) => Array.from({ length: T + 1 }, (_, j) => (j < T - n ? 0 : 1))),
    positions: lens,
    past: padPasts(runner, seqs, T),
    logits: true,
    attention: false,
  });
  return out.logits!.every((l, b) => {
    let worst = 0;
    let scale = 1e-6;
    for (let i = 0; i < l.length; i++) {
      worst = Math.max(worst, Math.abs(l[i] - alone[b][i]));
      scale = Math.max(scale, Math.abs(alone[b][i]));
    }
    return worst <= 1e-3 * scale;
  });
}
