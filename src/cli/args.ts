// Small argv parser: `--flag value`, `--flag=value`, repeated flags, booleans, positionals.
// Specs are declared per command so unknown flags are a clear error, not silently ignored.

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  /** Accept several values after the flag (`--haystack a.txt b.txt`). Only for 'list'. */
  variadic?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | number | boolean | string[] | undefined>;
  positionals: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      flags[name] = eq < 0 ? true : arg.slice(eq + 1) !== 'false';
      continue;
    }
    const values: string[] = [];
    if (eq >= 0) values.push(arg.slice(eq + 1));
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value`);
      values.push(argv[++i]);
      if (s.variadic) while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) values.push(argv[++i]);
    }
    if (s.type === 'list') {
      const prev = (flags[name] as string[] | undefined) ?? [];
      flags[name] = [...prev, ...values];
    } else if (s.type === 'number') {
      const n = Number(values[0]);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${values[0]}"`);
      flags[name] = n;
    } else flags[name] = values[0];
  }
  return { flags, positionals };
}

/** Comma-separated integers, e.g. "1,2,4,8". */
export function parseIntList(text: string, what: string): number[] {
  const out = text.split(',').filter((s) => s.trim() !== '').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n))) throw new UsageError(`${what} must be comma-separated integers, got "${text}"`);
  return out;
}
