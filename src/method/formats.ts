// Score files on disk: ours (retrieval-lens/scores@1) and the reference's head_score JSON
// ({"layer-head": [score per counted case]}), so published files and ours load in the same tools.
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RetrievalLensError } from '../engine/errors.js';
import { summarize, DEFAULT_THRESHOLD } from './aggregate.js';
import type { CaseResult, ScoresFile } from './types.js';

const bad = (source: string, why: string) => new RetrievalLensError('BAD_SCORES_FILE', `${source} is not a scores file: ${why}`);

function fromReference(obj: Record<string, unknown>, source: string): ScoresFile {
  const entries = Object.entries(obj);
  if (entries.length === 0) throw bad(source, 'it is an empty object');
  let layers = 0;
  let heads = 0;
  let nCases = -1;
  const parsed: [number, number, number[]][] = [];
  for (const [key, v] of entries) {
    const m = /^(\d+)-(\d+)$/.exec(key);
    if (!m) throw bad(source, `key "${key}" is not "layer-head"`);
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw bad(source, `"${key}" is not a list of numbers`);
    if (nCases >= 0 && v.length !== nCases) throw bad(source, `"${key}" has ${v.length} case scores, others have ${nCases}`);
    nCases = v.length;
    const [l, h] = [Number(m[1]), Number(m[2])];
    layers = Math.max(layers, l + 1);
    heads = Math.max(heads, h + 1);
    parsed.push([l, h, v as number[]]);
  }
  // Every counted case of a reference file was a success; rebuild one case per list index.
  const cases: CaseResult[] = Array.from({ length: nCases }, () => ({
    length: 0,
    depth: 0,
    needleId: '',
    promptTokens: 0,
    span: [0, 0] as [number, number],
    success: true,
    rougeRecall: 1,
    response: '',
    question: '',
    scores: Array.from({ length: layers }, () => new Array<number>(heads).fill(0)),
  }));
  for (const [l, h, list] of parsed) list.forEach((s, i) => (cases[i].scores[l][h] = s));
  const file = summarize({ id: source, layers, heads }, { source: 'reference head_score format' }, cases, DEFAULT_THRESHOLD);
  file.summary.accuracy = { lengths: [], depths: [], values: [] };
  return file;
}

function isMatrix(m: unknown, layers: number, heads: number): boolean {
  return Array.isArray(m) && m.length === layers && m.every((r) => Array.isArray(r) && r.length === heads && r.every((x) => typeof x === 'number' && Number.isFinite(x)));
}

function checkOurs(v: ScoresFile, source: string): ScoresFile {
  const { layers, heads } = v.model ?? ({} as ScoresFile['model']);
  if (!Number.isInteger(layers) || !Number.isInteger(heads) || layers <= 0 || heads <= 0) throw bad(source, 'model.layers / model.heads missing');
  if (!isMatrix(v.scores, layers, heads)) throw bad(source, `scores is not a ${layers} x ${heads} matrix of numbers`);
  if (!Array.isArray(v.cases)) throw bad(source, 'cases missing');
  v.cases.forEach((c, i) => {
    if (!c || typeof c !== 'object') throw bad(source, `case ${i + 1} is not an object`);
    if (typeof c.success !== 'boolean') throw bad(source, `case ${i + 1} has no boolean "success"`);
    if (!isMatrix(c.scores, layers, heads)) throw bad(source, `case ${i + 1} scores are not a ${layers} x ${heads} matrix of numbers`);
  });
  if (!v.summary || !Array.isArray(v.retrievalHeads)) {
    // A hand-trimmed file: rebuild the summary from its cases rather than fail later in a view.
    const threshold = typeof (v.settings as { threshold?: unknown })?.threshold === 'number' ? ((v.settings as { threshold: number }).threshold) : DEFAULT_THRESHOLD;
    const rebuilt = summarize({ ...v.model, id: v.model.id ?? source }, v.settings ?? {}, v.cases, threshold);
    return { ...rebuilt, scores: v.scores, retrievalHeads: Array.isArray(v.retrievalHeads) ? v.retrievalHeads : rebuilt.retrievalHeads };
  }
  return v;
}

export function parseScoresJson(text: string, source = 'scores file'): ScoresFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw bad(source, `invalid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(source, 'expected a JSON object');
  const obj = v as Record<string, unknown>;
  if (obj.format === 'retrieval-lens/scores@1') return checkOurs(obj as unknown as ScoresFile, source);
  if (typeof obj.format === 'string') throw bad(source, `its format is "${obj.format}", not retrieval-lens/scores@1`);
  return fromReference(obj, source);
}

/** The reference's format: per head, its score in every counted case. */
export function toReferenceFormat(s: ScoresFile): Record<string, number[]> {
  const counted = s.cases.filter((c) => c.success);
  const out: Record<string, number[]> = {};
  for (let l = 0; l < s.model.layers; l++) for (let h = 0; h < s.model.heads; h++) out[`${l}-${h}`] = counted.map((c) => c.scores[l][h]);
  return out;
}

export function toCsv(s: ScoresFile, threshold = DEFAULT_THRESHOLD): string {
  const rows = ['layer,head,score,retrieval_head'];
  s.scores.forEach((row, l) => row.forEach((v, h) => rows.push(`${l},${h},${v},${v >= threshold ? 1 : 0}`)));
  return rows.join('\n') + '\n';
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new RetrievalLensError('BAD_INPUT', `cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Checked before a long run, so a typo in --out fails at once, not after the whole grid. */
export function checkOutputPath(path: string): void {
  const dir = dirname(resolve(path));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new RetrievalLensError('BAD_INPUT', `cannot write ${path}: folder ${dir} does not exist`);
}
