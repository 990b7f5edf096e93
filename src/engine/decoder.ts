// A step-by-step decoder over a loaded model, for methods that drive decoding themselves:
// contrastive decoding (two decoders side by side), feeding a question's tokens one at a time to
// read each one's attention (query-focused scoring), or decoding under a KV-cache policy that
// restricts some heads to a sink and a window.
import type { Runner, Sequence } from './runner.js';
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
