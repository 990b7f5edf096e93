// Score files on disk: ours (retrieval-lens/scores@1), the reference's head_score JSON
// ({"layer-head": [score per counted case]}, also DeCoRe's and HeadKV's) and the other published
// head files (formats/external.ts), recognised by their content, so all load in the same tools.
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants as fsConstants,
  copyFileSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RetrievalLensError } from '../shared/errors.js';
import { readTextFile } from '../shared/textFile.js';
import { summarize, DEFAULT_THRESHOLD } from './aggregate.js';
import type { CaseResult, ScoresFile } from './types.js';
import { DETECTION_METHODS } from './defaults.js';
import { bad, fromDuoTsv, fromQrheadJson, fromQrheadYaml, MAX_HEADS, MAX_LAYERS, referenceLabel } from './formats/external.js';

export { MAX_HEADS, MAX_LAYERS };

/** Largest score file read (ours keep every case's matrix: a big grid of a big model is tens of MB). */
export const MAX_SCORES_BYTES = 128 * 1024 * 1024;
/** Largest number of per-case head scores (heads x cases) a score file may describe. */
const MAX_CASE_SCORES = 32 * 1024 * 1024;

function fromReference(obj: Record<string, unknown>, source: string): ScoresFile {
  const entries = Object.entries(obj);
  if (entries.length === 0) throw bad(source, 'it is an empty object');
  let layers = 0;
  let heads = 0;
  let nCases = -1;
  const parsed: [number, number, number[]][] = [];
  const seen = new Set<string>();
  for (const [key, v] of entries) {
    const m = /^(\d{1,9})-(\d{1,9})$/.exec(key);
    if (!m) throw bad(source, `key "${key}" is not "layer-head"`);
    const [l, h] = [Number(m[1]), Number(m[2])];
    // Sizes come from the largest indices: bound them before anything is allocated from them.
    if (l >= MAX_LAYERS || h >= MAX_HEADS)
      throw bad(source, `key "${key}": layer and head indices must be below ${MAX_LAYERS} and ${MAX_HEADS}`);
    if (seen.has(`${l}-${h}`)) throw bad(source, `head ${l}-${h} is given twice ("${key}")`);
    seen.add(`${l}-${h}`);
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
      throw bad(source, `"${key}" is not a list of numbers`);
    if (nCases >= 0 && v.length !== nCases) throw bad(source, `"${key}" has ${v.length} case scores, others have ${nCases}`);
    nCases = v.length;
    layers = Math.max(layers, l + 1);
    heads = Math.max(heads, h + 1);
    parsed.push([l, h, v as number[]]);
  }
  if (layers * heads * Math.max(nCases, 1) > MAX_CASE_SCORES) {
    throw bad(source, `it describes ${layers} x ${heads} heads x ${nCases} cases, more than the ${MAX_CASE_SCORES} case scores accepted`);
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
  const file = summarize({ id: source, layers, heads }, { source: referenceLabel(source) }, cases, DEFAULT_THRESHOLD);
  file.summary.accuracy = { lengths: [], depths: [], values: [] };
  return file;
}

function isMatrix(m: unknown, layers: number, heads: number): boolean {
  return (
    Array.isArray(m) &&
    m.length === layers &&
    m.every((r) => Array.isArray(r) && r.length === heads && r.every((x) => typeof x === 'number' && Number.isFinite(x)))
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const numbers = (v: unknown, ok: (x: number) => boolean) => Array.isArray(v) && v.every((x) => typeof x === 'number' && ok(x));

/** The settings ablation reads back (lengths, depths, needles, threshold) must be what they claim. */
function checkSettings(settings: unknown, source: string): Record<string, unknown> {
  if (settings === undefined || settings === null) return {};
  if (!isObject(settings)) throw bad(source, '"settings" is not an object');
  const s = settings;
  if (s.lengths !== undefined && !numbers(s.lengths, (x) => Number.isInteger(x) && x > 0))
    throw bad(source, 'settings.lengths is not a list of positive integers');
  if (s.depths !== undefined && !numbers(s.depths, (x) => x >= 0 && x <= 100))
    throw bad(source, 'settings.depths is not a list of percentages 0..100');
  if (s.needles !== undefined && !(Array.isArray(s.needles) && s.needles.every((x) => typeof x === 'string')))
    throw bad(source, 'settings.needles is not a list of needle ids');
  if (s.threshold !== undefined && !(typeof s.threshold === 'number' && s.threshold >= 0 && Number.isFinite(s.threshold)))
    throw bad(source, 'settings.threshold is not a number >= 0');
  if (s.method !== undefined && !(DETECTION_METHODS as readonly unknown[]).includes(s.method))
    throw bad(source, `settings.method is not one of ${DETECTION_METHODS.join(', ')}`);
  if (s.level !== undefined && s.level !== 'query' && s.level !== 'kv') throw bad(source, 'settings.level is not "query" or "kv"');
  return s;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** Where an embedded summary disagrees with what its cases give, or null. Missing parts are not compared. */
function summaryMismatch(file: Partial<ScoresFile>, rebuilt: ScoresFile): string | null {
  for (let l = 0; l < rebuilt.scores.length; l++) {
    for (let h = 0; h < rebuilt.scores[l].length; h++) {
      if (!close(file.scores![l][h], rebuilt.scores[l][h]))
        return `scores[${l}][${h}] is ${file.scores![l][h]} but the mean of its counted cases is ${rebuilt.scores[l][h]}`;
    }
  }
  const heads = (x: unknown) => (Array.isArray(x) ? x.map((r) => (Array.isArray(r) ? `${r[0]}-${r[1]}` : '?')).join(',') : String(x));
  if (file.retrievalHeads !== undefined && heads(file.retrievalHeads) !== heads(rebuilt.retrievalHeads)) {
    return `retrievalHeads [${heads(file.retrievalHeads)}] are not the heads its scores put at or above the threshold [${heads(rebuilt.retrievalHeads)}]`;
  }
  if (file.summary === undefined) return null;
  if (!isObject(file.summary)) return 'summary is not an object';
  const s = file.summary as unknown as Record<string, unknown>;
  const r = rebuilt.summary;
  if (s.countedCases !== r.countedCases || s.failedCases !== r.failedCases)
    return `summary counts ${s.countedCases} counted / ${s.failedCases} failed cases, its cases say ${r.countedCases} / ${r.failedCases}`;
  if (typeof s.fractionRetrieval !== 'number' || !close(s.fractionRetrieval, r.fractionRetrieval))
    return `summary.fractionRetrieval is ${s.fractionRetrieval}, its scores give ${r.fractionRetrieval}`;
  if (heads(s.alwaysActive) !== heads(r.alwaysActive)) return 'summary.alwaysActive does not match its cases';
  if (JSON.stringify(s.accuracy) !== JSON.stringify(r.accuracy)) return 'summary.accuracy does not match its cases';
  return null;
}

function checkOurs(v: ScoresFile, source: string): ScoresFile {
  const { layers, heads } = isObject(v.model) ? v.model : ({} as ScoresFile['model']);
  if (!Number.isInteger(layers) || !Number.isInteger(heads) || layers <= 0 || heads <= 0)
    throw bad(source, 'model.layers / model.heads missing');
  if (layers > MAX_LAYERS || heads > MAX_HEADS) throw bad(source, `model.layers / model.heads above ${MAX_LAYERS} / ${MAX_HEADS}`);
  if (!isMatrix(v.scores, layers, heads)) throw bad(source, `scores is not a ${layers} x ${heads} matrix of numbers`);
  if (!Array.isArray(v.cases)) throw bad(source, 'cases missing');
  v.cases.forEach((c, i) => {
    if (!isObject(c)) throw bad(source, `case ${i + 1} is not an object`);
    if (typeof c.success !== 'boolean') throw bad(source, `case ${i + 1} has no boolean "success"`);
    if (!isMatrix(c.scores, layers, heads)) throw bad(source, `case ${i + 1} scores are not a ${layers} x ${heads} matrix of numbers`);
    if (!Number.isFinite(c.length) || !Number.isFinite(c.depth)) throw bad(source, `case ${i + 1} has no numeric "length" and "depth"`);
  });
  const settings = checkSettings(v.settings, source);
  const threshold = typeof settings.threshold === 'number' ? settings.threshold : DEFAULT_THRESHOLD;
  const model = { ...v.model, id: typeof v.model.id === 'string' ? v.model.id : source };
  const rebuilt = summarize(model, settings, v.cases, threshold);
  // An embedded summary is a claim about the cases: checked, never trusted. A hand-trimmed file
  // without one gets it rebuilt from the cases rather than fail later in a view.
  const mismatch = summaryMismatch(v, rebuilt);
  if (mismatch) throw bad(source, `${mismatch}; the file was edited or is damaged`);
  return { ...v, model, settings, retrievalHeads: v.retrievalHeads ?? rebuilt.retrievalHeads, summary: v.summary ?? rebuilt.summary };
}

/** JSON of the whole text, else of its first line (DeCoRe and HeadKV read only that); undefined when neither parses. */
function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const nl = text.indexOf('\n');
    if (nl > 0 && text.slice(nl).trim() !== '') {
      try {
        return { value: JSON.parse(text.slice(0, nl)) };
      } catch {
        // the whole text's error is the one to report
      }
    }
    return { error: (e as Error).message };
  }
}

/**
 * Parses any format read (ours, the reference's and DeCoRe's / HeadKV's, DuoAttention's TSV,
 * QRHead's lists and configs), told apart by content. Text may start with a BOM. Throws
 * BAD_SCORES_FILE, one line, naming the formats when it is none of them.
 */
export function parseScoresJson(text: string, source = 'scores file'): ScoresFile {
  if (text.length > MAX_SCORES_BYTES) throw bad(source, `it is larger than ${MAX_SCORES_BYTES / 1024 / 1024} MB`);
  const body = text.replace(/^\uFEFF/, '');
  const parsed = parseJson(body);
  if ('error' in parsed) {
    const other = fromDuoTsv(body, source) ?? fromQrheadYaml(body, source);
    if (other) return other;
    throw bad(
      source,
      `invalid JSON (${parsed.error}), and not one of the text formats read (DuoAttention's full_attention_heads.tsv, a QRHead YAML config with attn_head_set)`,
    );
  }
  const v = parsed.value;
  const qr = fromQrheadJson(v, source);
  if (qr) return qr;
  if (!isObject(v))
    throw bad(
      source,
      'expected a JSON object (ours, or {"layer-head": [...]}) or a QRHead head list (["layer-head", ...] or [["layer-head", score], ...])',
    );
  const obj = v;
  if (obj.format === 'retrieval-lens/scores@1') return checkOurs(obj as unknown as ScoresFile, source);
  if (typeof obj.format === 'string') throw bad(source, `its format is "${obj.format}", not retrieval-lens/scores@1`);
  return fromReference(obj, source);
}

/** Reads a score file with a size bound (a FIFO, /dev/zero or a folder is refused) and parses it. */
export function readScoresFile(path: string): ScoresFile {
  return parseScoresJson(readTextFile(path, { maxBytes: MAX_SCORES_BYTES, what: 'scores file', code: 'BAD_SCORES_FILE' }), path);
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

const cannotWrite = (path: string, why: string) => new RetrievalLensError('BAD_INPUT', `cannot write ${path}: ${why}`);

function errno(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'EROFS') return 'read-only file system';
  if (err.code === 'ENOSPC') return 'no space left on the device';
  return (err.message ?? String(e)).split('\n')[0];
}

/**
 * Checked before a long run, so a bad --out fails at once, not after the whole grid: the target is
 * a regular file or does not exist yet (not a folder, FIFO, device or symbolic link, which a write
 * would replace), and its folder exists and takes a new file (tried, so read-only folders and file
 * systems are caught even for root).
 */
export function checkOutputPath(path: string): void {
  if (!path) throw cannotWrite('""', 'no file name given');
  const abs = resolve(path);
  const dir = dirname(abs);
  let st;
  try {
    st = lstatSync(abs);
  } catch {
    st = null;
  }
  if (st) {
    if (st.isSymbolicLink()) throw cannotWrite(path, 'it is a symbolic link (name the file it points to, or another file)');
    if (st.isDirectory()) throw cannotWrite(path, 'it is a folder (give a file name)');
    if (!st.isFile()) throw cannotWrite(path, 'it is not a regular file (a FIFO, socket or device would be replaced)');
    try {
      accessSync(abs, fsConstants.W_OK);
    } catch {
      throw cannotWrite(path, 'the file is read-only');
    }
  }
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch {
    throw cannotWrite(path, `folder ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) throw cannotWrite(path, `${dir} is not a folder`);
  const probe = join(dir, `.${basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.check`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    throw cannotWrite(path, `folder ${dir} does not take new files (${errno(e)})`);
  }
  rmSync(probe, { force: true });
}

interface Staged {
  path: string;
  tmp: string;
  /** A hard link to the file this one replaces, to put back if a later write fails. */
  backup: string | null;
  done: boolean;
}

const tmpName = (path: string, tag: string) =>
  join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.${tag}`);

/**
 * Writes several files so that a reader sees either all the new ones or none: each goes to a new
 * temporary file beside its target (created exclusively, with the mode of the file it replaces),
 * then all are renamed into place; if any step fails, the targets already replaced get their old
 * content back and every temporary file is removed.
 */
export function writeFilesAtomic(files: { path: string; data: string }[]): void {
  const staged: Staged[] = [];
  const cleanup = () => {
    for (const f of staged) {
      rmSync(f.tmp, { force: true });
      if (f.backup) rmSync(f.backup, { force: true });
    }
  };
  try {
    for (const { path, data } of files) {
      checkOutputPath(path);
      const f: Staged = { path, tmp: tmpName(path, 'tmp'), backup: null, done: false };
      staged.push(f);
      let mode: number | null = null;
      try {
        mode = statSync(path).mode & 0o7777;
      } catch {
        // a new file: created with the default mode (0666 less the umask)
      }
      const fd = openSync(f.tmp, 'wx', mode ?? 0o666);
      try {
        writeFileSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (mode !== null) {
        // The umask applies at creation: give the replacement exactly the old file's mode.
        chmodSync(f.tmp, mode);
        f.backup = tmpName(path, 'bak');
        try {
          linkSync(path, f.backup);
        } catch {
          copyFileSync(path, f.backup);
        }
      }
    }
  } catch (e) {
    cleanup();
    if (e instanceof RetrievalLensError) throw e;
    throw cannotWrite(staged.at(-1)?.path ?? files[0]?.path ?? '', errno(e));
  }
  try {
    for (const f of staged) {
      renameSync(f.tmp, f.path);
      f.done = true;
    }
  } catch (e) {
    const failed = staged.find((f) => !f.done)!;
    for (const f of staged.filter((x) => x.done)) {
      try {
        if (f.backup) renameSync(f.backup, f.path);
        else rmSync(f.path, { force: true });
        f.backup = null;
      } catch {
        // best effort: the error below names the file that failed
      }
    }
    cleanup();
    throw cannotWrite(failed.path, errno(e));
  }
  cleanup();
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, data: string): void {
  writeFilesAtomic([{ path, data }]);
}
