// Locating the answer span in the prompt, as the reference's find_needle_idx: the first window of
// |answer| tokens whose set of distinct ids overlaps the answer's by more than 90%. First-match
// means the window can start a token or two early; that is the paper's behaviour, kept on purpose.

export function findSpan(promptIds: ArrayLike<number>, answerIds: number[]): [number, number] | null {
  const want = new Set(answerIds);
  const len = answerIds.length;
  if (len === 0 || want.size === 0) return null;
  for (let i = 0; i < promptIds.length; i++) {
    const window = new Set<number>();
    for (let j = i; j < Math.min(i + len, promptIds.length); j++) window.add(promptIds[j]);
    let overlap = 0;
    for (const id of window) if (want.has(id)) overlap++;
    if (overlap / want.size > 0.9) return [i, i + len];
  }
  return null;
}
