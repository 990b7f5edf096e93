// A step-by-step decoder over a loaded model, for methods that drive decoding themselves:
// contrastive decoding (two decoders side by side), feeding a question's tokens one at a time to
// read each one's attention (query-focused scoring), or decoding under a KV-cache policy that
// restricts some heads to a sink and a window.
import { DEFAULT_PREFILL_BUDGET_BYTES, prefillChunkSize, type Runner, type Sequence } from './runner.js';
import { maskTensor } from './generate.js';
import { RetrievalLensError, cancelled } from '../shared/errors.js';
import type { AttentionNodeInfo, Decoder, DecoderOptions, ModelInfo, StepAttention } from './types.js';

/** The tensors a decoder's options stand for, checked against the graph's sites. */
function resolve(info: ModelInfo, sites: AttentionNodeInfo[], opts: DecoderOptions) {
  const mask = opts.mask?.heads.length ? maskTensor(opts.mask.heads, info.layers, info.heads) : null;
  const uniform = (opts.mask?.mode ?? 'uniform') === 'uniform';
  if (mask && uniform) {
    for (const { layer, head } of opts.mask!.heads) {
      const caveat = sites[layer]?.uniformCaveat;
      if (caveat)
        throw new RetrievalLensError(
          'BAD_INPUT',
          `cannot mask head ${layer}:${head} the paper's way (uniform attention): layer ${layer} ${caveat}; use mask mode "zero"`,
        );
    }
  }
  const prefillMask = opts.mask?.scope === 'all' ? mask : null;
  let restrict = null;
  if (opts.restrict?.heads.length) {
    const { sink, window } = opts.restrict;
    if (!(Number.isInteger(sink) && sink >= 0 && Number.isInteger(window) && window >= 1)) {
      throw new RetrievalLensError(
        'BAD_INPUT',
        `a restriction keeps a sink of >= 0 and a window of >= 1 positions, got sink ${sink}, window ${window}`,
      );
    }
    for (const { layer } of opts.restrict.heads) {
      const caveat = sites[layer]?.restrictCaveat;
      if (caveat) throw new RetrievalLensError('UNSUPPORTED_ARCHITECTURE', `cannot restrict heads of layer ${layer}: ${caveat}`);
    }
    // maskTensor marks the listed heads 0; a restriction wants them 1.
    const heads = maskTensor(opts.restrict.heads, info.layers, info.heads).map((v) => 1 - v);
    restrict = { heads, sink, window };
  }
  return { mask, uniform, prefillMask, restrict };
}

export function createDecoder(runner: Runner, info: ModelInfo, sites: AttentionNodeInfo[], opts: DecoderOptions = {}): Decoder {
  const wrap = (seq: Sequence, o: DecoderOptions): Decoder => {
    const { mask, uniform, prefillMask, restrict } = resolve(info, sites, o);
    return {
      get length() {
        return seq.length;
      },
      async prefill(ids, signal) {
        if (seq.length + ids.length > info.contextLength) {
          throw new RetrievalLensError(
            'CONTEXT_TOO_LONG',
            `${seq.length + ids.length} tokens exceed the model's context of ${info.contextLength}`,
          );
        }
        seq.reserve(seq.length + ids.length + 64);
        await seq.prefill(ids, { mask: prefillMask, uniform, logits: false, signal });
      },
      async step(token, stepOpts = {}) {
        if (stepOpts.signal?.aborted) throw cancelled();
        if (seq.length + 1 > info.contextLength)
          throw new RetrievalLensError('CONTEXT_TOO_LONG', `the model's context of ${info.contextLength} tokens is full`);
        const out = await seq.forward([token], { mask, uniform, restrict, attention: Boolean(stepOpts.attention) });
        const result: { logits: Float32Array; attention?: StepAttention } = { logits: out.logits! };
        if (out.attention) result.attention = { kvLen: out.kvLen, rows: out.attention };
        return result;
      },
      async prefillRows(ids, rowOpts = {}) {
        const want = rowOpts.rows ?? ids.length;
        if (!(Number.isInteger(want) && want >= 0 && want <= ids.length))
          throw new RetrievalLensError('BAD_INPUT', `cannot report the rows of ${want} of ${ids.length} tokens`);
        if (seq.length + ids.length > info.contextLength) {
          throw new RetrievalLensError(
            'CONTEXT_TOO_LONG',
            `${seq.length + ids.length} tokens exceed the model's context of ${info.contextLength}`,
          );
        }
        seq.reserve(seq.length + ids.length + 64);
        const LH = info.layers * info.heads;
        const end = seq.length + ids.length;
        const firstRow = ids.length - want;
        const chunk = prefillChunkSize(runner.shape, end);
        // A call's rows ([layers * heads, rows, kvLen] floats) fit the prefill budget too.
        const maxRows = Math.max(1, Math.floor(DEFAULT_PREFILL_BUDGET_BYTES / (4 * LH * end)));
        const out: StepAttention[] = [];
        for (let i = 0; i < ids.length;) {
          if (rowOpts.signal?.aborted) throw cancelled();
          let stop = Math.min(ids.length, i + chunk);
          if (stop - Math.max(i, firstRow) > maxRows) stop = Math.max(i, firstRow) + maxRows;
          const part = ids.slice(i, stop);
          // The rows wanted are a suffix of the tokens, so of every chunk.
          const R = stop - Math.max(i, firstRow);
          const r = await seq.forward(part, { mask: prefillMask, uniform, attention: R > 0, attentionRows: R, logits: false });
          const att = r.attention; // [layers * heads, R, total]
          for (let k = 0; att && k < R; k++) {
            // Row k sees the positions up to its own; the rest of its row is the causal mask's zeros.
            const kvLen = r.kvLen - R + k + 1;
            const rows = new Float32Array(LH * kvLen);
            for (let lh = 0; lh < LH; lh++) rows.set(att.subarray((lh * R + k) * r.kvLen, (lh * R + k) * r.kvLen + kvLen), lh * kvLen);
            out.push({ kvLen, rows });
          }
          i = stop;
        }
        return out;
      },
      fork(forkOpts) {
        // A fork keeps the cache it was given: a mask meant for the prefill too cannot apply to it.
        if (forkOpts?.mask?.scope === 'all' && forkOpts.mask.heads.length)
          throw new RetrievalLensError(
            'BAD_INPUT',
            'a fork keeps the prefill it was made from; a mask with scope "all" needs a decoder of its own',
          );
        return wrap(seq.fork(seq.length, 64), forkOpts ?? o);
      },
    };
  };
  return wrap(runner.newSequence(), opts);
}
