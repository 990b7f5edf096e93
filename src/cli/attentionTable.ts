// generate --attention without --json: per generated token, where the chosen heads look. One line a
// token: `  12  " 4"        5-0 @203 " 4" .93   5-5 @203 " 4" .88 ...`, so a 50-token answer is a
// 50-line table that reads down the answer.
import type { HeadRef } from '../engine/index.js';

export interface HeadPeak {
  layer: number;
  head: number;
  /** The position the head attends to most (of those considered). */
  position: number;
  weight: number;
}

/**
 * Each head's strongest position in one step's attention rows ([layers, heads, kvLen] flattened).
 * With `heads`, those heads in that order, over every position. Without, the `top` heads with the
 * highest peak, leaving position 0 out: many heads park their attention on the first token (an
 * attention sink), which would rank them first and say nothing about what the answer reads.
 */
export function stepPeaks(
  rows: ArrayLike<number>,
  shape: { layers: number; heads: number; kvLen: number },
  choose: { heads: HeadRef[] } | { top: number },
): HeadPeak[] {
  const { heads, kvLen } = shape;
  const peak = (layer: number, head: number, from: number): HeadPeak => {
    const base = (layer * heads + head) * kvLen;
    let best = from;
    for (let p = from + 1; p < kvLen; p++) if (rows[base + p] > rows[base + best]) best = p;
    return { layer, head, position: best, weight: rows[base + best] };
  };
  if ('heads' in choose) return choose.heads.map((h) => peak(h.layer, h.head, 0));
  const from = kvLen > 1 ? 1 : 0;
  const all: HeadPeak[] = [];
  for (let l = 0; l < shape.layers; l++) for (let h = 0; h < heads; h++) all.push(peak(l, h, from));
  return all.sort((a, b) => b.weight - a.weight || a.layer - b.layer || a.head - b.head).slice(0, choose.top);
}

/** A token as a short quoted string: spaces and newlines visible, long tokens cut. */
export function quoteToken(text: string, max = 12): string {
  const q = JSON.stringify(text);
  return q.length > max ? q.slice(0, max - 2) + '…"' : q;
}

/** ".93", "1.0", ".05": two digits are what a glance at attention needs. */
const weight = (w: number) => (w >= 0.995 ? '1.0' : w.toFixed(2).replace(/^0/, ''));

export interface TableStep {
  /** Position of the generated token in the sequence (prompt, then the answer). */
  position: number;
  token: number;
  peaks: HeadPeak[];
}

/**
 * The table: a header, then one line per generated token with each chosen head's strongest
 * position, the token there and its weight; `*` marks a head attending to the very token being
 * generated (a copy, what a retrieval head does on the needle). `tokenAt(position)` is the
 * sequence's token id there, `text(position)` that token's text as it reads in the sequence.
 */
export function formatAttentionTable(
  steps: TableStep[],
  tokenAt: (position: number) => number,
  text: (position: number) => string,
  how: { promptTokens: number; heads: string },
): string {
  const tokenCol = Math.min(14, Math.max(5, ...steps.map((s) => quoteToken(text(s.position)).length))) + 2;
  const lines = [
    `attention per generated token, ${how.heads}: layer-head @position "token there" weight`,
    `(* the head attends to the token it generates; the prompt is positions 0-${how.promptTokens - 1}, the answer follows)`,
    `${'#'.padStart(4)}  ${'token'.padEnd(tokenCol)}heads`,
  ];
  steps.forEach((s, i) => {
    const cells = s.peaks.map(
      (p) =>
        `${p.layer}-${p.head} @${p.position} ${quoteToken(text(p.position))} ${weight(p.weight)}${tokenAt(p.position) === s.token ? '*' : ''}`,
    );
    lines.push(`${String(i + 1).padStart(4)}  ${quoteToken(text(s.position)).padEnd(tokenCol)}${cells.join('   ')}`);
  });
  return lines.join('\n') + '\n';
}
