// The JSON the CLI prints and writes: indented objects, but every array of numbers, strings,
// booleans or nulls on one line, and small flat objects inline. JSON.stringify with an indent puts
// each number on a line of its own (a 774-token prompt's ids took 2,423 lines); without one, a
// scores file is one unreadable line. The value is exactly what JSON.parse gives back from
// JSON.stringify (toJSON, undefined and NaN as JSON.stringify treats them).

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isLeaf = (v: Json): v is null | boolean | number | string => v === null || typeof v !== 'object';

/** A leaf, [] or {}: what an inline object may hold. */
const isFlat = (v: Json): boolean => isLeaf(v) || (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0);

/** An object of leaves printed inline when its one-line form is at most this long. */
const INLINE_OBJECT_WIDTH = 80;

function format(v: Json, indent: string, step: string): string {
  if (isLeaf(v)) return JSON.stringify(v);
  const inner = indent + step;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every(isLeaf)) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    return `[\n${v.map((x) => inner + format(x, inner, step)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return '{}';
  if (entries.every(([, x]) => isFlat(x))) {
    const line = `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${format(x, inner, step)}`).join(', ')}}`;
    if (line.length <= INLINE_OBJECT_WIDTH) return line;
  }
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner, step)}`).join(',\n')}\n${indent}}`;
}

/** `value` as JSON, objects indented by `indent` spaces, leaf arrays on one line; no trailing newline. */
export function formatJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(value);
  // Like JSON.stringify: undefined (or a function) at the top has no JSON form.
  if (text === undefined) return 'null';
  return format(JSON.parse(text) as Json, '', ' '.repeat(indent));
}
