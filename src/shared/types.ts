// The vocabulary every layer shares, from the engine to the webview: a head, and how it is masked.

/** A query head: 0-based layer and head, as in the paper's files. */
export interface HeadRef {
  layer: number;
  head: number;
}

/**
 * Masked heads. `uniform` is the paper's: the head's pre-softmax scores are zeroed, so it
 * attends uniformly over the positions it may see and outputs the mean of its values.
 * `zero`: the head's output is exactly 0.
 */
export type MaskMode = 'uniform' | 'zero';
/** `decode`: masks apply to generated tokens only (the prefill's KV cache is unmasked, as the paper). */
export type MaskScope = 'decode' | 'all';

export interface MaskSpec {
  heads: HeadRef[];
  mode: MaskMode;
  scope: MaskScope;
}
