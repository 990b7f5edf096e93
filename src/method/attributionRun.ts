// "Where did this answer come from?": the user's document and question in the model's prompt
// format, a greedy answer with every head's attention read at each step, and each answer token
// attributed to the document's sentences through the retrieval heads (attribution.ts).
import { RetrievalLensError } from '../shared/errors.js';
import { tokenSpans, type TokenSpan } from '../shared/tokenSpans.js';
import type { LoadedModel } from '../engine/index.js';
import {
  attributeToken,
  buildContextPrompt,
  classifyTokens,
  combineSources,
  grounding,
  mixHeads,
  splitUnits,
  toLf,
  toRawOffset,
  type Grounding,
  type Source,
  type SourceUnit,
} from './attribution.js';
import { longestFittingPrefix } from './document.js';
import { documentTemplate } from './document.js';
import type { ScoredHead } from './heads.js';
import { ATTRIBUTION_TOP_SOURCES, DEFAULT_MAX_NEW_TOKENS, GROUNDING_FLAG_BELOW } from './defaults.js';

export interface AttributeOptions {
  unit?: SourceUnit;
  maxNewTokens?: number;
  /** Source spans per token. */
  top?: number;
  /** Grounding below this is flagged. */
  flagBelow?: number;
  signal?: AbortSignal;
  onStep?: (done: number) => void;
}

export interface AttributionResult {
  model: string;
  answer: string;
  heads: ScoredHead[];
  unit: SourceUnit;
  /** How offsets count: UTF-16 code units of the document as read (BOM dropped, CRLF kept). */
  offsets: 'utf16';
  /** Characters of the document the prompt holds (all of it unless it had to be cut to fit the context). */
  contextChars: number;
  documentChars: number;
  tokens: { text: string; contextShare: number; sources: Source[] }[];
  /** The whole answer's sources: its tokens' sources summed (weights averaged over the tokens), best first. */
  sources: Source[];
  grounding: Grounding;
}

/** Spans of the prompt's tokens in the prompt, decoding with or without special tokens, whichever gives the prompt back. */
function promptSpans(model: LoadedModel, ids: number[], prompt: string): TokenSpan[] {
  for (const skipSpecialTokens of [true, false]) {
    const dec = (x: number[]) => model.tokenizer.decode(x, { skipSpecialTokens });
    if (dec(ids) === prompt) return tokenSpans(ids, dec);
  }
  throw new RetrievalLensError(
    'RUNTIME',
    'this tokenizer does not decode the prompt back to the same text, so token offsets cannot be mapped to the document',
  );
}

/** LF text cut to at most `chars` characters, at whitespace, such that the prompt fits `maxTokens`. */
function fitDocument(model: LoadedModel, template: string, text: string, question: string, maxTokens: number): number {
  const fits = (chars: number) =>
    model.tokenizer.encode(buildContextPrompt(template, text.slice(0, chars), question).prompt).length <= maxTokens;
  return longestFittingPrefix(text, maxTokens, fits, `the question alone needs more than the ${maxTokens} prompt tokens the model allows`);
}

export async function attribute(
  model: LoadedModel,
  raw: string,
  question: string,
  heads: ScoredHead[],
  opts: AttributeOptions = {},
): Promise<AttributionResult> {
  const { info, tokenizer } = model;
  if (!raw.trim()) throw new RetrievalLensError('EMPTY_INPUT', 'the document is empty');
  if (!question.trim()) throw new RetrievalLensError('EMPTY_INPUT', 'the question is empty');
  if (!heads.length) throw new RetrievalLensError('BAD_INPUT', 'no heads to attribute with');
  const unit = opts.unit ?? 'sentence';
  const maxNew = opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const eol = toLf(raw);
  const template = documentTemplate(model);
  const chars = fitDocument(model, template, eol.text, question, info.contextLength - maxNew - 1);
  const text = eol.text.slice(0, chars);
  const { prompt, segments } = buildContextPrompt(template, text, question);
  const ids = tokenizer.encode(prompt);
  const kinds = classifyTokens(promptSpans(model, ids, prompt), segments, eol);
  const contextChars = toRawOffset(eol, chars);
  const units = splitUnits(raw.slice(0, contextChars), unit);
  const top = opts.top ?? ATTRIBUTION_TOP_SOURCES;
  const perToken: { contextShare: number; sources: Source[] }[] = [];
  const stops = [...info.eosTokenIds];
  if (tokenizer.newlineTokenId !== null) stops.push(tokenizer.newlineTokenId);
  const result = await model.generate(ids, {
    maxNewTokens: maxNew,
    stopTokens: stops,
    attention: true,
    signal: opts.signal,
    onStep: (step, i) => {
      const att = step.attention!; // [layers, heads, kvLen]
      perToken.push(attributeToken(mixHeads(att.rows, att.kvLen, info.heads, heads), kinds, units, top));
      opts.onStep?.(i + 1);
    },
  });
  // The stop token ends the answer; it is not part of it.
  let n = result.tokenIds.length;
  if (result.stoppedBy !== 'max-tokens') n--;
  const answerIds = result.tokenIds.slice(0, n);
  // Token texts in context: decoding a lone SentencePiece token drops its leading space.
  const ctx = ids.slice(-4);
  const dec = (x: number[]) => tokenizer.decode(x, { skipSpecialTokens: true });
  const all = [...ctx, ...answerIds];
  const full = dec(all);
  const texts = tokenSpans(all, dec)
    .slice(ctx.length)
    .map((s) => full.slice(s.start, s.end));
  const tokens = answerIds.map((_, i) => ({ text: texts[i], ...perToken[i] }));
  return {
    model: info.id,
    // The tokens' texts joined: what the model wrote after the prompt (a leading space included).
    answer: tokens.map((t) => t.text).join(''),
    heads,
    unit,
    offsets: 'utf16',
    contextChars,
    documentChars: raw.length,
    tokens,
    sources: combineSources(tokens, top),
    grounding: grounding(
      tokens.map((t) => t.contextShare),
      opts.flagBelow ?? GROUNDING_FLAG_BELOW,
    ),
  };
}
