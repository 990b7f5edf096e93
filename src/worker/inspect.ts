// The "inspect" run behind needle highlights and mask/re-generate: the user's own text with a
// needle inserted at a sentence boundary, generated with attention, and for every head the
// positions it read most at each step. Built at character level (not from the method's token
// grid) so that every prompt character maps back to a character of the user's document.
import { RetrievalLensError } from '../engine/errors.js';
import type { LoadedModel, MaskSpec } from '../engine/types.js';
import type { Needle } from '../method/types.js';
import { tokenSpans, tokensOverlapping } from '../shared/tokenSpans.js';
import type { InspectRequest, InspectResponse, InspectStep, PromptSegment } from './protocol.js';

/** The base-model question suffix of the reference code, used when a model has no template. */
export const REFERENCE_TEMPLATE = '{context}Based on the content of the book, Question: {question}\nAnswer:';

export interface BuiltPrompt {
  prompt: string;
  segments: PromptSegment[];
  needleChars: [number, number];
  needleTextOffset: number;
  textUsed: number;
}

/**
 * Where to insert a needle: just after the sentence end at or before depth% of the text (as the
 * reference walks back to a period). Line breaks do not count: prose is often wrapped mid-sentence.
 * Where no sentence ends before that point, the next sentence end after it; in a text with none,
 * the word boundary at or before depth% (never the start of the text for a depth above 0).
 */
export function insertionPoint(text: string, depth: number): number {
  if (depth >= 100) return text.length;
  const at = Math.round((text.length * Math.max(0, depth)) / 100);
  const endsSentence = (pos: number) => /[.!?]/.test(text[pos - 1]) && (pos === text.length || /\s/.test(text[pos]));
  let pos = at;
  while (pos > 0 && !endsSentence(pos)) pos--;
  if (pos > 0 || at === 0) return pos;
  for (let p = at + 1; p <= text.length; p++) if (endsSentence(p)) return p;
  const space = text.slice(0, at + 1).search(/\s\S*$/);
  return space > 0 ? space : at;
}

/**
 * Fills the template with the text (cut to `textChars`) and the needle at `depth`. The needle is
 * separated by one space so the surrounding words keep their own tokens.
 */
export function buildPrompt(template: string, text: string, textChars: number, needle: Needle, depth: number): BuiltPrompt {
  const used = text.slice(0, textChars);
  const at = insertionPoint(used, depth);
  const before = used.slice(0, at);
  const after = used.slice(at);
  const lead = before && !/\s$/.test(before) ? ' ' : '';
  const trail = after && !/^\s/.test(after) ? ' ' : '';
  const inserted = lead + needle.needle + trail;
  const context = before + inserted + after;
  // One pass over the template: every {context} and {question} filled, nothing inside the user's
  // text or the question (a document may well contain "{question}"). Each copy of the context maps
  // back to the text; the needle is located in the first.
  const parts = template.split(/(\{context\}|\{question\})/);
  if (!parts.includes('{context}')) throw new RetrievalLensError('BAD_INPUT', 'the prompt template has no {context}');
  let prompt = '';
  const segments: PromptSegment[] = [];
  let needleAt = -1;
  for (const part of parts) {
    if (part === '{context}') {
      const c0 = prompt.length;
      segments.push({ promptStart: c0, promptEnd: c0 + before.length, textStart: 0 }, { promptStart: c0 + before.length + inserted.length, promptEnd: c0 + context.length, textStart: at });
      if (needleAt < 0) needleAt = c0 + before.length + lead.length;
      prompt += context;
    } else prompt += part === '{question}' ? needle.question : part;
  }
  return {
    prompt,
    segments: segments.filter((s) => s.promptEnd > s.promptStart),
    needleChars: [needleAt, needleAt + needle.needle.length],
    needleTextOffset: at,
    textUsed: used.length,
  };
}

export function promptTemplate(model: LoadedModel): string {
  if (model.info.template) return model.info.template;
  const chat = model.tokenizer.applyChatTemplate('<book>{context}</book>\nBased on the content of the book, Question: {question}\nAnswer:');
  return chat ?? REFERENCE_TEMPLATE;
}

/** How many characters of `text` fit so the whole prompt stays within `maxTokens`. */
export function fitText(model: LoadedModel, template: string, text: string, needle: Needle, maxTokens: number): number {
  const fits = (chars: number) => model.tokenizer.encode(buildPrompt(template, text, chars, needle, 50).prompt).length <= maxTokens;
  // A book-sized document is never tokenized whole: prefixes longer than 32 characters a token
  // (more than any tokenizer packs in practice) are not tried.
  const cap = Math.min(text.length, maxTokens * 32);
  if (cap === text.length && fits(text.length)) return text.length;
  if (!fits(0)) throw new RetrievalLensError('CONTEXT_TOO_LONG', `the needle and question alone need more than ${maxTokens} tokens`);
  let lo = 0;
  let hi = cap;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  // End on a word boundary so the cut does not split a token the rest of the text would keep.
  const ws = text.slice(0, lo).search(/\s\S*$/);
  return ws > 0 ? ws : lo;
}

/** The n largest entries of row[from, to), positions relative to `from`, weights descending. */
export function topPositions(row: Float32Array, from: number, to: number, n: number): { pos: Int32Array; w: Float32Array } {
  const pos: number[] = [];
  const w: number[] = [];
  for (let j = from; j < to; j++) {
    const v = row[j];
    if (pos.length === n && v <= w[n - 1]) continue;
    let k = pos.length === n ? n - 1 : pos.length;
    if (pos.length < n) {
      pos.push(0);
      w.push(0);
    }
    while (k > 0 && w[k - 1] < v) {
      pos[k] = pos[k - 1];
      w[k] = w[k - 1];
      k--;
    }
    pos[k] = j - from;
    w[k] = v;
  }
  return { pos: Int32Array.from(pos), w: Float32Array.from(w) };
}

export async function inspect(model: LoadedModel, req: InspectRequest, signal?: AbortSignal, onStep?: (done: number) => void): Promise<InspectResponse> {
  if (!req.text.trim()) throw new RetrievalLensError('EMPTY_INPUT', 'the text is empty');
  const { info, tokenizer } = model;
  const template = promptTemplate(model);
  const maxTokens = Math.min(req.maxPromptTokens, info.contextLength - req.maxNewTokens - 1);
  const chars = fitText(model, template, req.text, req.needle, maxTokens);
  const built = buildPrompt(template, req.text, chars, req.needle, req.depth);
  const ids = tokenizer.encode(built.prompt);
  const spans = tokenSpans(ids, (x) => tokenizer.decode(x, { skipSpecialTokens: true }));
  const decoded = tokenizer.decode(ids, { skipSpecialTokens: true });
  const prompt = built.prompt;
  // Spans index the decoded text; they index the prompt only when decoding gives it back.
  if (decoded !== prompt) {
    throw new RetrievalLensError('RUNTIME', 'this tokenizer does not decode the prompt back to the same text, so token offsets cannot be mapped to the document');
  }
  const answerAt = prompt.indexOf(req.needle.real_needle, built.needleChars[0]);
  const answer: [number, number] = answerAt >= 0 ? [answerAt, answerAt + req.needle.real_needle.length] : built.needleChars;
  const needleSpan = tokensOverlapping(spans, answer[0], answer[1]);
  const stops = [...info.eosTokenIds];
  if (tokenizer.newlineTokenId !== null) stops.push(tokenizer.newlineTokenId);
  const steps: InspectStep[] = [];
  const L = info.layers;
  const H = info.heads;
  const result = await model.generate(ids, {
    maxNewTokens: req.maxNewTokens,
    stopTokens: stops,
    mask: req.mask?.heads.length ? (req.mask as MaskSpec) : undefined,
    attention: true,
    signal,
    onStep: (step, i) => {
      const top: InspectStep['top'] = [];
      const att = step.attention;
      for (let h = 0; h < L * H; h++) {
        // [layers, heads, kvLen] flattened; keep the prompt part of each row only.
        top.push(att ? topPositions(att.rows, h * att.kvLen, h * att.kvLen + Math.min(att.kvLen, ids.length), req.topPositions) : { pos: new Int32Array(), w: new Float32Array() });
      }
      steps.push({ token: step.token, text: '', top });
      onStep?.(i + 1);
    },
  });
  // Token texts in context: decoding a lone SentencePiece token drops its leading space.
  const ctx = ids.slice(-4);
  const all = [...ctx, ...result.tokenIds];
  const dec = (x: number[]) => tokenizer.decode(x, { skipSpecialTokens: true });
  const full = dec(all);
  tokenSpans(all, dec).slice(ctx.length).forEach((s, i) => {
    if (steps[i]) steps[i].text = full.slice(s.start, s.end);
  });
  return {
    prompt,
    question: req.needle.question,
    needle: req.needle,
    tokens: spans.map((s) => ({ text: prompt.slice(s.start, s.end), start: s.start, end: s.end })),
    needleSpan,
    needleTextOffset: built.needleTextOffset,
    needleChars: built.needleChars,
    segments: built.segments,
    textUsed: built.textUsed,
    steps,
    answer: result.text,
    layers: L,
    heads: H,
  };
}
