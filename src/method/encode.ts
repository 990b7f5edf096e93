// Tokenizing a text that may be far longer than any context (a book-sized selection, a huge
// --prompt-file) costs seconds per megabyte. When a prefix alone already has more tokens than a
// limit, that is all a caller needs to know: the rest is never tokenized.
import type { TextTokenizer } from '../engine/index.js';

export interface BoundedEncoding {
  /** The text's token ids; null when only a prefix was tokenized (it already exceeds the limit). */
  ids: number[] | null;
  /** Token count: exact, or that of the prefix (a lower bound) when `atLeast`. */
  tokens: number;
  atLeast: boolean;
}

export function encodeBounded(tok: TextTokenizer, text: string, maxTokens: number, opts?: { addSpecialTokens?: boolean }): BoundedEncoding {
  const prefixChars = Math.max(maxTokens * 32, 65536);
  if (text.length > prefixChars) {
    const prefix = tok.encode(text.slice(0, prefixChars), opts).length;
    if (prefix > maxTokens) return { ids: null, tokens: prefix, atLeast: true };
  }
  const ids = tok.encode(text, opts);
  return { ids, tokens: ids.length, atLeast: false };
}
