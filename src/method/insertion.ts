// Where a needle goes, one rule for every unit (tokens of the grid, characters of a document): as
// the reference code, depth% of the sequence walked back to just after a sentence end. Where no
// sentence ends before that point (the walk would reach the start and put a "50%" needle at 0%),
// the next sentence end after it; in a sequence with none, `noSentence(at)`.

/** Boundary index in [0, n]; `endsBefore(i)` says whether a sentence ends right before boundary i. */
export function insertionIndex(
  n: number,
  depth: number,
  endsBefore: (i: number) => boolean,
  noSentence: (at: number) => number = (at) => at,
): number {
  if (depth >= 100) return n;
  const at = Math.floor((Math.max(0, depth) / 100) * n);
  let i = at;
  while (i > 0 && !endsBefore(i)) i--;
  if (i > 0 || at === 0) return i;
  for (let j = at + 1; j <= n; j++) if (endsBefore(j)) return j;
  return noSentence(at);
}
