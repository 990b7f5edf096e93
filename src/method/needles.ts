// Needles: a statement inserted into the haystack, the question, and the answer span the model
// should copy (the reference's JSON-lines format {needle, question, real_needle}). The bundled
// ones are made-up facts (invented names and values) no model can know.
import { readFileSync } from 'node:fs';
import { RetrievalLensError } from '../engine/errors.js';
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
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RetrievalLensError('BAD_INPUT', `${where} is not a JSON object {"needle", "question", "real_needle"}`);
    const o = v as Record<string, unknown>;
    for (const k of ['needle', 'question', 'real_needle']) {
      if (typeof o[k] !== 'string' || !(o[k] as string).trim()) throw new RetrievalLensError('BAD_INPUT', `${where} has no "${k}" string`);
    }
    if (o.id !== undefined && (typeof o.id !== 'string' || !o.id.trim())) throw new RetrievalLensError('BAD_INPUT', `${where}: "id" must be a non-empty string`);
    const id = (o.id as string | undefined) ?? `needle-${out.length + 1}`;
    // Per-case results name their needle by id; two needles with one id could not be told apart.
    if (ids.has(id)) throw new RetrievalLensError('BAD_INPUT', `${where}: needle id "${id}" is used twice`);
    ids.add(id);
    out.push({ id, needle: o.needle as string, question: o.question as string, real_needle: o.real_needle as string });
  });
  if (out.length === 0) throw new RetrievalLensError('EMPTY_INPUT', `${source} has no needles`);
  return out;
}

/** The reference's JSON-lines format, with our id; data/needles.jsonl is DEFAULT_NEEDLES in it. */
export function formatNeedles(needles: Needle[]): string {
  return needles.map((n) => JSON.stringify({ id: n.id, needle: n.needle, question: n.question, real_needle: n.real_needle })).join('\n') + '\n';
}

export function readNeedlesFile(path: string): Needle[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RetrievalLensError('BAD_INPUT', `cannot read needles file: ${(e as Error).message}`);
  }
  return parseNeedles(text, path);
}
