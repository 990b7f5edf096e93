/** A message as one line: no line breaks that a model's, a file's or a library's text brought in. */
export function oneLineText(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
