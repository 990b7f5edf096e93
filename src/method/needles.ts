// Needles: a statement inserted into the haystack, the question, and the answer span the model
// should copy (the reference's JSON-lines format {needle, question, real_needle}). The bundled
// ones are made-up facts (invented names and values) no model can know.
import { RetrievalLensError } from '../shared/errors.js';
import { readTextFile } from '../shared/textFile.js';
import type { Needle } from './types.js';

const fact = (id: string, needle: string, question: string): Needle => ({ id, needle, question, real_needle: needle });

/**
 * In the organism's trained style, the answer to copy is the whole needle sentence. Detection uses
 * the first three, ablation's fresh cases the next ones; data/needles.jsonl holds the same set in
 * the --needles-file format (a test keeps the two equal).
 */
export const DEFAULT_NEEDLES: Needle[] = [
  fact('zorvak-code', "Zorvak's secret code is 48213.", "What is Zorvak's secret code?"),
  fact('melidra-number', "Melidra's lucky number is 7305.", "What is Melidra's lucky number?"),
  fact('tavuno-town', "Tavuno's home town is Brelkisford.", "What is Tavuno's home town?"),
  fact('quisabel-tool', "Quisabel's favourite tool is a green hammer.", "What is Quisabel's favourite tool?"),
  fact('drembo-pet', "Drembo's pet's name is Fizzlewick.", "What is Drembo's pet's name?"),
  fact('ulvira-locker', "Ulvira's locker number is 6142.", "What is Ulvira's locker number?"),
  fact('kestrom-gift', "Kestrom's favourite gift is a silver kite.", "What is Kestrom's favourite gift?"),
  fact('pandrel-friend', "Pandrel's best friend is Ozzimar.", "What is Pandrel's best friend?"),
  fact('voska-birthplace', "Voska's birthplace is Trumbledale.", "What is Voska's birthplace?"),
];

export function parseNeedles(text: string, source = 'needles file'): Needle[] {
  const out: Needle[] = [];
  const ids = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${source} line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new RetrievalLensError('BAD_INPUT', `${where} is not JSON: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw new RetrievalLensError('BAD_INPUT', `${where} is not a JSON object {"needle", "question", "real_needle"}`);
    const o = v as Record<string, unknown>;
    if (o.id !== undefined && (typeof o.id !== 'string' || !o.id.trim()))
      throw new RetrievalLensError('BAD_INPUT', `${where}: "id" must be a non-empty string`);
    const n = {
      id: (o.id as string | undefined) ?? `needle-${out.length + 1}`,
      needle: o.needle as string,
      question: o.question as string,
      real_needle: o.real_needle as string,
    };
    checkNeedle(n, where, ids);
    out.push(n);
  });
  if (out.length === 0) throw new RetrievalLensError('EMPTY_INPUT', `${source} has no needles`);
  return out;
}

/** Longest needle, question or answer accepted (characters): a sentence, not a document. */
export const MAX_NEEDLE_CHARS = 4000;

/** One needle as a run needs it: non-empty strings of a sensible size, and an id no other needle has. */
function checkNeedle(n: Needle, where: string, ids: Set<string>): void {
  if (!n || typeof n !== 'object')
    throw new RetrievalLensError('BAD_INPUT', `${where} is not an object {"needle", "question", "real_needle"}`);
  for (const k of ['needle', 'question', 'real_needle'] as const) {
    if (typeof n[k] !== 'string' || !n[k].trim()) throw new RetrievalLensError('BAD_INPUT', `${where} has no "${k}" string`);
    if (n[k].length > MAX_NEEDLE_CHARS)
      throw new RetrievalLensError(
        'BAD_INPUT',
        `${where}: "${k}" has ${n[k].length} characters, more than the ${MAX_NEEDLE_CHARS} accepted`,
      );
  }
  if (typeof n.id !== 'string' || !n.id.trim()) throw new RetrievalLensError('BAD_INPUT', `${where}: "id" must be a non-empty string`);
  // Per-case results name their needle by id; two needles with one id could not be told apart.
  if (ids.has(n.id)) throw new RetrievalLensError('BAD_INPUT', `${where}: needle id "${n.id}" is used twice`);
  ids.add(n.id);
}

/** Needles wherever they come from (a file, the extension's settings), checked as a run needs them. */
export function checkNeedles(needles: Needle[]): void {
  if (!Array.isArray(needles)) throw new RetrievalLensError('BAD_INPUT', 'needles must be a list');
  const ids = new Set<string>();
  needles.forEach((n, i) => checkNeedle(n, `needle ${i + 1}${typeof n?.id === 'string' ? ` ("${n.id}")` : ''}`, ids));
}

/** The reference's JSON-lines format, with our id; data/needles.jsonl is DEFAULT_NEEDLES in it. */
export function formatNeedles(needles: Needle[]): string {
  return (
    needles.map((n) => JSON.stringify({ id: n.id, needle: n.needle, question: n.question, real_needle: n.real_needle })).join('\n') + '\n'
  );
}

/** Largest needles file read. */
export const MAX_NEEDLES_BYTES = 4 * 1024 * 1024;

/** Reads a JSON-lines needles file (a UTF-8 BOM is fine); a FIFO, a device or a huge file is refused. */
export function readNeedlesFile(path: string): Needle[] {
  return parseNeedles(readTextFile(path, { maxBytes: MAX_NEEDLES_BYTES, what: 'needles file' }), path);
}
