// Small argv parser: `--flag value`, `--flag=value`, repeated list flags, booleans, positionals.
// Specs are declared per command and checked here, once: an unknown flag, a missing or empty
// value, a number out of its range, a flag given twice or a stray argument is a UsageError
// (exit 2: how the command was called), before any file is read or model loaded. `-h`/`--help`
// anywhere wins over everything else.

export type FlagSpec =
  /** allowEmpty: an empty value is content (a prompt), not a missing one. */
  | { type: 'string'; choices?: readonly string[]; allowEmpty?: boolean }
  | { type: 'boolean' }
  /** An integer in [min, max]. */
  | { type: 'int'; min?: number; max?: number }
  /** A finite number in [min, max] (or (min, max] with minExclusive). */
  | { type: 'number'; min?: number; max?: number; minExclusive?: boolean }
  /** Strings; repeatable, and with variadic several values after one flag (`--haystack a.txt b.txt`). */
  | { type: 'list'; variadic?: boolean };

/** What a flag of this spec holds once parsed. */
export type FlagValue<F extends FlagSpec> = F extends { type: 'boolean' }
  ? boolean
  : F extends { type: 'int' | 'number' }
    ? number
    : F extends { type: 'list' }
      ? string[]
      : string;
export type FlagValues<S extends Record<string, FlagSpec>> = { [K in keyof S]?: FlagValue<S[K]> };

export interface ParsedArgs<S extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  flags: FlagValues<S>;
  positionals: string[];
  /** -h or --help was given: print the command's help and exit 0. */
  help: boolean;
}

import {
  NUMBER,
  parseNumber as parseSharedNumber,
  parseNumberList as parseSharedList,
  ValueError,
  type NumberSpec,
} from '../shared/numbers.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An option, as opposed to a value: "--x", "-x", but not "-1" or "-.5". */
const isOption = (a: string) => a.length > 1 && a.startsWith('-') && !NUMBER.test(a);

/** shared/numbers.ts's parser, its errors as usage errors (exit 2). */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ValueError) throw new UsageError(e.message);
    throw e;
  }
}

/** Parses a number flag's text; throws a UsageError naming the flag and the accepted range. */
export function parseNumber(text: string, what: string, s: NumberSpec): number {
  return usage(() => parseSharedNumber(text, what, s));
}

/** -h or --help before any `--`: the command's help, whatever else was given. */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help' || a.startsWith('--help='));
}

let lastSpec: Record<string, FlagSpec> | undefined;
/** The flag spec the last parse used: lets a test hold each command's help against the flags it really takes. */
export const lastParsedSpec = (): Record<string, FlagSpec> | undefined => lastSpec;

export function parseArgs<S extends Record<string, FlagSpec>>(argv: string[], spec: S, opts: { positionals?: number } = {}): ParsedArgs<S> {
  lastSpec = spec;
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  if (wantsHelp(argv)) return { flags: {} as FlagValues<S>, positionals: [], help: true };
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const arg = options[i];
    if (!isOption(arg)) {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unknown option ${arg} (options are --long-names)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type !== 'list' && flags[name] !== undefined) throw new UsageError(`--${name} is given twice`);
    if (s.type === 'boolean') {
      const v = eq < 0 ? 'true' : arg.slice(eq + 1);
      if (v !== 'true' && v !== 'false') throw new UsageError(`--${name} takes no value (or =true / =false), got "${v}"`);
      flags[name] = v === 'true';
      continue;
    }
    const values: string[] = [];
    if (eq >= 0) values.push(arg.slice(eq + 1));
    else {
      if (i + 1 >= options.length || options[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value`);
      values.push(options[++i]);
      if (s.type === 'list' && s.variadic) while (i + 1 < options.length && !isOption(options[i + 1])) values.push(options[++i]);
    }
    if (!(s.type === 'string' && s.allowEmpty) && values.some((v) => v.trim() === ''))
      throw new UsageError(`--${name} needs a value, got an empty one`);
    switch (s.type) {
      case 'list':
        flags[name] = [...((flags[name] as string[] | undefined) ?? []), ...values];
        break;
      case 'int':
        flags[name] = parseNumber(values[0], `--${name}`, { ...s, int: true });
        break;
      case 'number':
        flags[name] = parseNumber(values[0], `--${name}`, s);
        break;
      case 'string':
        if (s.choices && !s.choices.includes(values[0]))
          throw new UsageError(`--${name} must be ${s.choices.join(' or ')}, got "${values[0]}"`);
        flags[name] = values[0];
        break;
    }
  }
  if (end >= 0) positionals.push(...argv.slice(end + 1));
  const max = opts.positionals ?? 0;
  if (positionals.length > max) {
    const extra = positionals.slice(max);
    throw new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((p) => JSON.stringify(p)).join(' ')}`);
  }
  return { flags: flags as FlagValues<S>, positionals, help: false };
}

/** Comma-separated integers in [min, max], e.g. "1,2,4,8"; duplicates are refused. */
export function parseIntList(text: string, what: string, s: { min?: number; max?: number } = {}): number[] {
  return usage(() => parseSharedList(text, what, { ...s, int: true }));
}

/** Comma-separated numbers in [min, max], e.g. "0,12.5,50"; duplicates are refused. */
export function parseNumberList(text: string, what: string, s: { min?: number; max?: number } = {}): number[] {
  return usage(() => parseSharedList(text, what, s));
}
