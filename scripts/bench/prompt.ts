// The token ids benchmark prompts are made of: deterministic, inside the vocabulary (skipping the
// special ids 0-2), and from its first 500 ids so every tokenizer's common range is used.
export const promptIds = (n: number, vocab: number): number[] =>
  Array.from({ length: n }, (_, i) => 3 + ((i * 131 + ((i * i) % 7)) % Math.min(vocab - 3, 500)));
