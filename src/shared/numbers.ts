// Numbers and number lists typed by a user (CLI flags, the extension's input boxes): one parser,
// one set of messages. A bad value is a ValueError naming what was wrong; callers turn it into
// their own kind of error (a usage error, an input box's validation message).

export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

export interface NumberSpec {
  int?: boolean;
  min?: number;
  max?: number;
  /** (min, max] instead of [min, max]. */
  minExclusive?: boolean;
}

const INT = /^[+-]?\d+$/;
export const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function range(s: NumberSpec): string {
  const lo = s.min === undefined ? '' : `${s.minExclusive ? '>' : '>='} ${s.min}`;
  const hi = s.max === undefined ? '' : `<= ${s.max}`;
  return [lo, hi].filter(Boolean).join(' and ');
}

/** One number; throws a ValueError naming `what` and the accepted range. */
export function parseNumber(text: string, what: string, s: NumberSpec): number {
  const t = text.trim();
  const kind = s.int ? 'an integer' : 'a number';
  if (!(s.int ? INT : NUMBER).test(t)) throw new ValueError(`${what} must be ${kind}${range(s) ? ` ${range(s)}` : ''}, got "${text}"`);
  const n = Number(t);
  const low = s.min !== undefined && (s.minExclusive ? n <= s.min : n < s.min);
  if (!Number.isFinite(n) || (s.int && !Number.isSafeInteger(n)) || low || (s.max !== undefined && n > s.max)) {
    throw new ValueError(`${what} must be ${kind} ${range(s) || 'of reasonable size'}, got ${t}`);
  }
  return n;
}

/** "1,2,4,8" (commas, or spaces within an item: "1 2, 4"); no empty item, no number twice. */
export function parseNumberList(text: string, what: string, s: NumberSpec = {}): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.every((p) => p === '')) throw new ValueError(`${what} needs comma-separated ${s.int ? 'integers' : 'numbers'}, got "${text}"`);
  if (parts.some((p) => p === '')) throw new ValueError(`${what} has an empty item: "${text}"`);
  const out = parts.flatMap((p) => p.split(/\s+/)).map((p) => parseNumber(p, `${what} items`, s));
  const dup = out.find((n, i) => out.indexOf(n) !== i);
  if (dup !== undefined) throw new ValueError(`${what} lists ${dup} twice`);
  return out;
}
