// The needle-in-a-haystack grid as a list of cases: its canonical order (the order results are
// written in, whatever order they ran in), shards of it for several machines, and the order that
// runs fastest with a shared-prefix KV cache.
import { RetrievalLensError } from '../shared/errors.js';
import type { CaseResult, Needle } from './types.js';

export interface GridCase {
  /** Position in the canonical order: lengths ascending, then depths ascending, then needles as given. */
  index: number;
  length: number;
  depth: number;
  needle: Needle;
}

export interface Shard {
  index: number;
  count: number;
}

export function planCases(lengths: number[], depths: number[], needles: Needle[]): GridCase[] {
  const out: GridCase[] = [];
  const ls = [...lengths].sort((a, b) => a - b);
  const ds = [...depths].sort((a, b) => a - b);
  for (const length of ls) for (const depth of ds) for (const needle of needles) out.push({ index: out.length, length, depth, needle });
  return out;
}

/** "2/4" -> { index: 1, count: 4 } (1-based on the command line, as job arrays count). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || !(n >= 1) || !(i >= 1 && i <= n))
    throw new RetrievalLensError('BAD_INPUT', `a shard is i/n with 1 <= i <= n (e.g. 1/4), got "${text}"`);
  return { index: i - 1, count: n };
}

/**
 * The cases of one shard: whole (length, depth) cells dealt round-robin, so the needles of a cell
 * stay together and every shard gets a mix of short and long prompts.
 */
export function shardCases(cases: GridCase[], shard: Shard): GridCase[] {
  const cells = new Map<string, number>();
  for (const c of cases) {
    const key = `${c.length}/${c.depth}`;
    if (!cells.has(key)) cells.set(key, cells.size);
  }
  return cases.filter((c) => cells.get(`${c.length}/${c.depth}`)! % shard.count === shard.index);
}

/**
 * Longest prompts first and, within a length, the deepest needle first: the first case's prompt then
 * holds the haystack prefix of every later case, which the prefix cache serves.
 */
export function executionOrder(cases: GridCase[]): GridCase[] {
  return [...cases].sort((a, b) => b.length - a.length || b.depth - a.depth || a.index - b.index);
}

/** Identifies a case's result across runs (resume, merge). */
export function caseKey(c: Pick<CaseResult, 'length' | 'depth' | 'needleId'>): string {
  return `${c.length}/${c.depth}/${c.needleId}`;
}
