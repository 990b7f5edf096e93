// Prompts around the user's own document (needle highlights, mask and re-generate): built at
// character level rather than from the grid's tokens, so that every prompt character maps back to
// a character of the document. Same prompt format and insertion rule as the grid's cases.
import { RetrievalLensError } from '../shared/errors.js';
import type { LoadedModel } from '../engine/index.js';
import { choosePromptFormat } from './cases.js';
import { DEFAULT_HIGHLIGHT_DEPTH } from './defaults.js';
import { insertionIndex } from './insertion.js';
import type { Needle } from './types.js';

/** A run of prompt characters copied from the document: prompt[promptStart, promptEnd) = text[textStart, ...). */
export interface PromptSegment {
  promptStart: number;
  promptEnd: number;
  textStart: number;
}

export interface BuiltPrompt {
  prompt: string;
  segments: PromptSegment[];
  needleChars: [number, number];
  /** Prompt character range of the question (its last copy: the one just before the answer). */
  questionChars: [number, number];
  needleTextOffset: number;
  textUsed: number;
}

/**
 * Where to insert a needle in a text, by the grid's rule (insertion.ts) on characters: just after a
 * sentence end ("." "!" "?" before whitespace; line breaks do not count, prose is often wrapped
 * mid-sentence). In a text with no sentence end at all, the word boundary at or before depth%.
 */
export function insertionPoint(text: string, depth: number): number {
  const endsBefore = (pos: number) => /[.!?]/.test(text[pos - 1]) && (pos === text.length || /\s/.test(text[pos]));
  return insertionIndex(text.length, depth, endsBefore, (at) => {
    const space = text.slice(0, at + 1).search(/\s\S*$/);
    return space > 0 ? space : at;
  });
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
  let questionAt = -1;
  for (const part of parts) {
    if (part === '{context}') {
      const c0 = prompt.length;
      segments.push(
        { promptStart: c0, promptEnd: c0 + before.length, textStart: 0 },
        { promptStart: c0 + before.length + inserted.length, promptEnd: c0 + context.length, textStart: at },
      );
      if (needleAt < 0) needleAt = c0 + before.length + lead.length;
      prompt += context;
    } else {
      if (part === '{question}') questionAt = prompt.length;
      prompt += part === '{question}' ? needle.question : part;
    }
  }
  return {
    prompt,
    segments: segments.filter((s) => s.promptEnd > s.promptStart),
    needleChars: [needleAt, needleAt + needle.needle.length],
    questionChars: questionAt < 0 ? [0, 0] : [questionAt, questionAt + needle.question.length],
    needleTextOffset: at,
    textUsed: used.length,
  };
}

/**
 * The prompt around a document, with {context} and {question} left in: the grid's prompt format,
 * a chat model's user turn rendered through its chat template (the placeholders pass through it).
 */
export function documentTemplate(model: LoadedModel): string {
  const fmt = choosePromptFormat(undefined, model.info.template, model.info.hasChatTemplate);
  if (!fmt.chat) return fmt.template;
  const chat = model.tokenizer.applyChatTemplate(fmt.template);
  if (chat === null) throw new RetrievalLensError('BAD_INPUT', 'the model has no chat template');
  return chat;
}

/** How many characters of `text` fit so the whole prompt stays within `maxTokens`. */
export function fitText(model: LoadedModel, template: string, text: string, needle: Needle, maxTokens: number): number {
  const fits = (chars: number) =>
    model.tokenizer.encode(buildPrompt(template, text, chars, needle, DEFAULT_HIGHLIGHT_DEPTH).prompt).length <= maxTokens;
  return longestFittingPrefix(text, maxTokens, fits, `the needle and question alone need more than ${maxTokens} tokens`);
}

/**
 * The longest prefix of `text` (in characters, cut at whitespace) for which `fits` holds, found by
 * binary search; `fits(0)` false is a CONTEXT_TOO_LONG error saying `tooLong`.
 */
export function longestFittingPrefix(text: string, maxTokens: number, fits: (chars: number) => boolean, tooLong: string): number {
  // A book-sized document is never tokenized whole: prefixes longer than 32 characters a token
  // (more than any tokenizer packs in practice) are not tried.
  const cap = Math.min(text.length, maxTokens * 32);
  if (cap === text.length && fits(text.length)) return text.length;
  if (!fits(0)) throw new RetrievalLensError('CONTEXT_TOO_LONG', tooLong);
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
