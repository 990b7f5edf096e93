// The "inspect" run behind needle highlights and mask/re-generate: the user's own text with a
// needle inserted at a sentence boundary (method/document.ts builds the prompt), generated with
// attention, and for every head the positions it read most at each step.
import { RetrievalLensError } from '../shared/errors.js';
import type { LoadedModel, MaskSpec } from '../engine/index.js';
import { buildPrompt, documentTemplate, fitText } from '../method/document.js';
import { tokenSpans, tokensOverlapping } from '../shared/tokenSpans.js';
import type { InspectRequest, InspectResponse, InspectStep } from './protocol.js';

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

export async function inspect(
  model: LoadedModel,
  req: InspectRequest,
  signal?: AbortSignal,
  onStep?: (done: number) => void,
): Promise<InspectResponse> {
  if (!req.text.trim()) throw new RetrievalLensError('EMPTY_INPUT', 'the text is empty');
  const { info, tokenizer } = model;
  const template = documentTemplate(model);
  const maxTokens = Math.min(req.maxPromptTokens, info.contextLength - req.maxNewTokens - 1);
  const chars = fitText(model, template, req.text, req.needle, maxTokens);
  const built = buildPrompt(template, req.text, chars, req.needle, req.depth);
  const ids = tokenizer.encode(built.prompt);
  const spans = tokenSpans(ids, (x) => tokenizer.decode(x, { skipSpecialTokens: true }));
  const decoded = tokenizer.decode(ids, { skipSpecialTokens: true });
  const prompt = built.prompt;
  // Spans index the decoded text; they index the prompt only when decoding gives it back.
  if (decoded !== prompt) {
    throw new RetrievalLensError(
      'RUNTIME',
      'this tokenizer does not decode the prompt back to the same text, so token offsets cannot be mapped to the document',
    );
  }
  const answerAt = prompt.indexOf(req.needle.real_needle, built.needleChars[0]);
  const answer: [number, number] = answerAt >= 0 ? [answerAt, answerAt + req.needle.real_needle.length] : built.needleChars;
  const needleSpan = tokensOverlapping(spans, answer[0], answer[1]);
  const questionSpan = tokensOverlapping(spans, built.questionChars[0], built.questionChars[1]);
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
        top.push(
          att
            ? topPositions(att.rows, h * att.kvLen, h * att.kvLen + Math.min(att.kvLen, ids.length), req.topPositions)
            : { pos: new Int32Array(), w: new Float32Array() },
        );
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
  tokenSpans(all, dec)
    .slice(ctx.length)
    .forEach((s, i) => {
      if (steps[i]) steps[i].text = full.slice(s.start, s.end);
    });
  return {
    prompt,
    question: req.needle.question,
    needle: req.needle,
    tokens: spans.map((s) => ({ text: prompt.slice(s.start, s.end), start: s.start, end: s.end })),
    needleSpan,
    questionSpan,
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
