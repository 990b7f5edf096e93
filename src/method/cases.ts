// Builds needle-in-a-haystack prompts as the reference code does: trim the haystack tokens to the
// context budget, insert the needle tokens at depth% after walking back to a sentence-ending
// period token, decode, then wrap context and question in the prompt template.
import { RetrievalLensError } from '../shared/errors.js';
import type { TextTokenizer } from '../engine/index.js';
import { findSpan } from './span.js';
import { insertionIndex } from './insertion.js';
import { questionSpan } from './detectors/qrhead.js';
import type { Needle } from './types.js';

/** The reference's prompt for base models: the question appended directly to the context. */
export const BASE_TEMPLATE = '{context}Based on the content of the book, Question: {question}\nAnswer:';
/** The reference's user turn for chat models (rendered through the model's chat template). */
export const CHAT_USER_TEMPLATE = '<book>{context}</book>\nBased on the content of the book, Question: {question}\nAnswer:';
/** The reference keeps length - 200 tokens of haystack; used as is from this length up. */
const REFERENCE_BUFFER = 200;
const REFERENCE_BUFFER_FROM = 1000;

export interface PromptFormat {
  /** A string with {context} and {question}; null with chat = true means the model's chat template. */
  template: string;
  chat: boolean;
}

/** --template override, else the folder's retrieval-lens.json, else its chat template, else the base prompt. */
export function choosePromptFormat(override: string | undefined, folderTemplate: string | null, hasChatTemplate: boolean): PromptFormat {
  const t = override ?? folderTemplate;
  if (t !== undefined && t !== null) {
    if (!t.includes('{context}') || !t.includes('{question}'))
      throw new RetrievalLensError('BAD_INPUT', 'a prompt template must contain {context} and {question}');
    return { template: t, chat: false };
  }
  return hasChatTemplate ? { template: CHAT_USER_TEMPLATE, chat: true } : { template: BASE_TEMPLATE, chat: false };
}

export interface NeedleCase {
  length: number;
  depth: number;
  needle: Needle;
  prompt: string;
  promptIds: number[];
  /** [start, end) of the answer in promptIds. */
  span: [number, number];
  /** Character range of the needle in `prompt` (for highlights); [-1, -1] if not found verbatim. */
  needleChars: [number, number];
  /** Where the needle really went, in percent of the haystack tokens (depth is the grid's). */
  needleDepth: number;
  /** [start, end) of the question in promptIds; built when the CaseBuilder is asked for it. */
  questionSpan?: [number, number];
}

/**
 * Fills {context} and {question} in one pass over the template: every occurrence of each, and
 * nothing inside the values themselves (a haystack or a document may well contain "{question}").
 */
export function fillTemplate(template: string, values: { context: string; question: string }): string {
  return template.replace(/\{(context|question)\}/g, (_, key: 'context' | 'question') => values[key]);
}

function render(fmt: PromptFormat, tok: TextTokenizer, context: string, question: string): { text: string; ids: number[] } {
  const user = fillTemplate(fmt.template, { context, question });
  if (!fmt.chat) return { text: user, ids: tok.encode(user) };
  const text = tok.applyChatTemplate(user);
  if (text === null) throw new RetrievalLensError('BAD_INPUT', 'the model has no chat template');
  // Chat templates carry their own BOS.
  return { text, ids: tok.encode(text, { addSpecialTokens: false }) };
}

/**
 * Haystack tokens for the case: buffer = prompt overhead (template + question) + answer tokens + 1
 * (the newline), i.e. "length" is the whole sequence the model processes, prompt and answer.
 * At paper scale (>= 1000 tokens) the reference's fixed 200-token buffer is used when larger.
 */
export function contextBudget(length: number, overheadTokens: number, answerTokens: number, needleTokens: number): number {
  let buffer = overheadTokens + answerTokens + 1;
  if (length >= REFERENCE_BUFFER_FROM) buffer = Math.max(buffer, REFERENCE_BUFFER);
  return length - buffer - needleTokens;
}

/**
 * Index to insert at for depth% of the haystack tokens (insertion.ts: walked back to just after a
 * token ending in '.'). The depth a case really used is recorded beside the grid's
 * (CaseResult.needleDepth): even the reference's walk can move a needle far in sparse text.
 */
export function insertionPoint(tokens: number[], depth: number, endsSentence: (id: number) => boolean): number {
  return insertionIndex(tokens.length, depth, (i) => endsSentence(tokens[i - 1]));
}

/** Where a needle inserted at `at` of `n` haystack tokens sits, in percent (one decimal). */
export function depthOf(at: number, n: number): number {
  return n ? Math.round((1000 * at) / n) / 10 : 0;
}

/** Character range of the needle in the prompt; [-1, -1] if decoding changed its text. */
function locate(prompt: string, needle: Needle): [number, number] {
  for (const t of [needle.needle.trim(), needle.real_needle.trim()]) {
    const at = prompt.indexOf(t);
    if (at >= 0) return [at, at + t.length];
  }
  return [-1, -1];
}

export class CaseBuilder {
  private haystackIds: number[] | null = null;
  private readonly periodCache = new Map<number, boolean>();

  constructor(
    private readonly tok: TextTokenizer,
    private readonly haystack: string[],
    private readonly fmt: PromptFormat,
    private readonly opts: { needleBos?: boolean; bosTokenId?: number | null; questionSpan?: boolean } = {},
  ) {
    if (haystack.every((h) => h.trim() === '')) throw new RetrievalLensError('EMPTY_INPUT', 'the haystack is empty');
  }

  private endsSentence = (id: number): boolean => {
    let v = this.periodCache.get(id);
    if (v === undefined) {
      v = this.tok.decode([id]).trimEnd().endsWith('.');
      this.periodCache.set(id, v);
    }
    return v;
  };

  /** At least n haystack tokens; a short haystack is repeated, as a long context needs. */
  private haystackTokens(n: number): number[] {
    const text = this.haystack.join('\n\n');
    // Encode only a prefix big enough for n tokens (a book-length selection need not be tokenized whole).
    let chars = Math.max(4000, n * 8);
    while (!this.haystackIds || (this.haystackIds.length < n && chars < text.length * 2)) {
      const ids = this.tok.encode(text.slice(0, chars), { addSpecialTokens: false });
      // A prefix can end inside a word: its last token is not what the whole text would give.
      if (chars < text.length) ids.pop();
      this.haystackIds = ids;
      if (chars >= text.length) break;
      chars *= 2;
    }
    const base = this.haystackIds;
    if (base.length === 0) throw new RetrievalLensError('EMPTY_INPUT', 'the haystack has no tokens');
    const out: number[] = [];
    while (out.length < n) for (let i = 0; i < base.length && out.length < n; i++) out.push(base[i]);
    return out;
  }

  build(length: number, depth: number, needle: Needle): NeedleCase {
    const tok = this.tok;
    const needleIds = tok.encode(needle.needle, { addSpecialTokens: false });
    if (this.opts.needleBos && this.opts.bosTokenId != null) needleIds.unshift(this.opts.bosTokenId);
    const answerIds = tok.encode(needle.real_needle, { addSpecialTokens: false });
    const overhead = render(this.fmt, tok, '', needle.question).ids.length;
    const budget = contextBudget(length, overhead, answerIds.length, needleIds.length);
    if (budget < 8) {
      throw new RetrievalLensError(
        'BAD_INPUT',
        `length ${length} leaves no room for a haystack: needle "${needle.id}" takes ${needleIds.length} tokens, the prompt around it ${overhead} and the answer ${answerIds.length}; this needle needs a length of at least ${length - budget + 8}`,
      );
    }
    const hay = this.haystackTokens(budget);
    const at = insertionPoint(hay, depth, this.endsSentence);
    const context = tok.decode([...hay.slice(0, at), ...needleIds, ...hay.slice(at)], { skipSpecialTokens: !this.opts.needleBos });
    const { text, ids } = render(this.fmt, tok, context, needle.question);
    const span = findSpan(ids, answerIds);
    if (!span) {
      throw new RetrievalLensError(
        'BAD_INPUT',
        `needle "${needle.id}": its answer "${needle.real_needle}" is not found in the tokenized prompt; real_needle must be a span of the needle text`,
      );
    }
    const out: NeedleCase = {
      length,
      depth,
      needle,
      prompt: text,
      promptIds: ids,
      span,
      needleChars: locate(text, needle),
      needleDepth: depthOf(at, hay.length),
    };
    if (this.opts.questionSpan) out.questionSpan = this.locateQuestion(context, needle, ids, span);
    return out;
  }

  /** The question's tokens: where the prompt differs from the same prompt with an empty question. */
  private locateQuestion(context: string, needle: Needle, ids: number[], span: [number, number]): [number, number] {
    const q = questionSpan(ids, render(this.fmt, this.tok, context, '').ids);
    if (!q)
      throw new RetrievalLensError('BAD_INPUT', `needle "${needle.id}": its question "${needle.question}" has no tokens in the prompt`);
    if (q[0] < span[1])
      throw new RetrievalLensError(
        'BAD_INPUT',
        `needle "${needle.id}": the question starts at token ${q[0]}, before the needle's end (${span[1]}); query-focused scoring needs the question after the context`,
      );
    return q;
  }
}
