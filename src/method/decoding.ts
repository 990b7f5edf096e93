// Greedy decoding over a step decoder (LoadedModel.decoder): for methods that need what
// generate() does not give, such as a KV-cache policy's restriction or two models side by side.
// Same protocol as generate(): the prompt's last token is fed first, the stop token is kept.
import { throwIfAborted } from '../shared/errors.js';
import type { Decoder, TextTokenizer } from '../engine/index.js';

/** Index of the largest entry (the first one on ties, as the engine's greedy sampler). */
export function argmaxOf(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Greedy tokens after `first` (the prompt's last token, not yet fed) until a stop token or `maxNew`. */
export async function greedyTokens(
  decoder: Decoder,
  first: number,
  maxNew: number,
  stops: Set<number>,
  signal?: AbortSignal,
): Promise<number[]> {
  const out: number[] = [];
  let input = first;
  while (out.length < maxNew) {
    throwIfAborted(signal);
    const { logits } = await decoder.step(input, { signal });
    const token = argmaxOf(logits);
    out.push(token);
    if (stops.has(token)) break;
    input = token;
  }
  return out;
}

/** The answer's text as generate() gives it: EOS tokens dropped, special tokens skipped. */
export function answerText(tokenizer: TextTokenizer, ids: number[], eos: number[]): string {
  const skip = new Set(eos);
  return tokenizer.decode(
    ids.filter((t) => !skip.has(t)),
    { skipSpecialTokens: true },
  );
}
