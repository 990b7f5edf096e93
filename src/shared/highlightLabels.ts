// Words for needle highlights, shared by the panel and the editor: where the strongest attended
// position lies, and what a generated step is called. Pure, so both sides and the tests agree.

export type Where = 'needle' | 'question' | 'elsewhere';

export const WHERE_LABEL: Record<Where, string> = {
  needle: 'in the needle',
  question: 'in the question',
  elsewhere: 'elsewhere',
};

const inside = (pos: number, span: readonly [number, number]) => pos >= span[0] && pos < span[1];

/**
 * Where a prompt position lies. The needle wins over the question: a retrieval head copying the
 * answer reads the needle, and the question never overlaps it in a well-formed prompt anyway.
 */
export function whereIs(pos: number, needleSpan: readonly [number, number], questionSpan: readonly [number, number]): Where {
  if (inside(pos, needleSpan)) return 'needle';
  if (inside(pos, questionSpan)) return 'question';
  return 'elsewhere';
}

/**
 * A generated token as the step label shows it. Generation stops at the end-of-sequence token
 * (which decodes to nothing) or at a newline; both end the answer, and `""` or `"\n"` say neither.
 */
export function stepTokenLabel(text: string): string {
  if (text === '') return 'end of answer';
  if (/^[ \t]*\r?\n\s*$/.test(text)) return 'end of answer (new line)';
  return JSON.stringify(text);
}

/** The generated token as the answer strip shows it: the token itself, or a mark for the end. */
export function stepTokenChip(text: string): string {
  if (text === '') return '⏹ end';
  if (/^[ \t]*\r?\n\s*$/.test(text)) return '⏎ end';
  return text;
}
