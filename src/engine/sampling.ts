// Next-token choice from logits: greedy, or temperature / top-k / top-p sampling with a seeded RNG.
import { RetrievalLensError } from '../shared/errors.js';
import type { SamplingOptions } from './types.js';
import { rng } from '../shared/random.js';

export { rng };

export function argmax(xs: ArrayLike<number>, start = 0, end = xs.length): number {
  let best = start;
  for (let i = start + 1; i < end; i++) if (xs[i] > xs[best]) best = i;
  return best - start;
}

/** Throws BAD_INPUT for options no sampler can follow (a negative temperature, top-p outside (0, 1], ...). */
export function checkSampling(opts: SamplingOptions): void {
  const bad = (what: string, v: unknown) => new RetrievalLensError('BAD_INPUT', `${what}, got ${v}`);
  const { temperature, topK, topP, seed } = opts;
  if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0 && temperature <= 100))
    throw bad('temperature must be between 0 (greedy) and 100', temperature);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) throw bad('top-k must be an integer >= 0 (0: off)', topK);
  if (topP !== undefined && !(typeof topP === 'number' && topP > 0 && topP <= 1)) throw bad('top-p must be in (0, 1]', topP);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw bad('the seed must be an integer', seed);
}

export function makeSampler(opts: SamplingOptions = {}): (logits: Float32Array) => number {
  checkSampling(opts);
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) return (logits) => argmax(logits);
  const rand = rng(opts.seed ?? Date.now());
  return (logits) => {
    // Candidates sorted by logit; keep top-k, then the smallest prefix with mass >= top-p.
    let idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
    if (opts.topK && opts.topK > 0) idx = idx.slice(0, opts.topK);
    const max = logits[idx[0]];
    let probs = idx.map((i) => Math.exp((logits[i] - max) / temperature));
    let sum = probs.reduce((a, b) => a + b, 0);
    if (opts.topP && opts.topP < 1) {
      let acc = 0;
      let keep = 0;
      while (keep < probs.length && acc < opts.topP * sum) acc += probs[keep++];
      idx = idx.slice(0, keep);
      probs = probs.slice(0, keep);
      sum = acc;
    }
    let r = rand() * sum;
    for (let i = 0; i < idx.length; i++) {
      r -= probs[i];
      if (r <= 0) return idx[i];
    }
    return idx[idx.length - 1];
  };
}
