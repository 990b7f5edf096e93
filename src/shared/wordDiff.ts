// Word-level difference of two answers (longest common subsequence), to mark the words that
// changed when heads are masked.

export interface DiffPart {
  text: string;
  same: boolean;
}

const split = (s: string) => s.match(/\s+|[^\s]+/g) ?? [];

export function wordDiff(a: string, b: string): { a: DiffPart[]; b: DiffPart[] } {
  const x = split(a);
  const y = split(b);
  // lcs[i][j]: common length of x[i..] and y[j..]
  const lcs = Array.from({ length: x.length + 1 }, () => new Int32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const outA: DiffPart[] = [];
  const outB: DiffPart[] = [];
  const push = (out: DiffPart[], text: string, same: boolean) => {
    // Whitespace never counts as a change; it joins the neighbouring part.
    const s = same || /^\s+$/.test(text);
    const last = out[out.length - 1];
    if (last && last.same === s) last.text += text;
    else out.push({ text, same: s });
  };
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      push(outA, x[i++], true);
      push(outB, y[j++], true);
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) push(outA, x[i++], false);
    else push(outB, y[j++], false);
  }
  while (i < x.length) push(outA, x[i++], false);
  while (j < y.length) push(outB, y[j++], false);
  return { a: outA, b: outB };
}
