// Head files published by later work, read into our scores shape so they load and compare like
// ours (test/fixtures/head-files/README.md says where each format comes from):
//   the paper's head_score/<model>.json, DeCoRe's retrieval_heads/<model>.json and HeadKV's
//     Important_Head/head_score/<model>_retrieval_heads.json | _retrieval_reasoning_heads.json:
//     one JSON object {"layer-head": [score per counted case]} (they read its first line); the
//     file's place and name say which (formats.ts parses the content)
//   DuoAttention's attn_patterns/<model>/<run>/full_attention_heads.tsv: numpy.savetxt of the
//     learned gates, one line per layer, one tab-separated value per KV head
//   QRHead: its detection output, a JSON list [["layer-head", score], ...] by score; its configs'
//     attn_head_set "l-h,l-h,..." (YAML, or JSON with that key); or a JSON list of "l-h" strings
// Files that carry one final score per head (no cases) get one synthetic counted case holding it,
// so every view and the round trip through our format work unchanged.
import { RetrievalLensError } from '../../shared/errors.js';
import { summarize } from '../aggregate.js';
import type { CaseResult, ScoresFile, ScoresSettings } from '../types.js';

export const bad = (source: string, why: string) => new RetrievalLensError('BAD_SCORES_FILE', `${source} is not a scores file: ${why}`);

/** Largest layer and head counts a score file may describe. */
export const MAX_LAYERS = 1024;
export const MAX_HEADS = 1024;

/** What a {"layer-head": [...]} file is, from its place and name (the content is the same for all three). */
export function referenceLabel(path: string): string {
  const p = path.replace(/\\/g, '/');
  if (/_retrieval_reasoning_heads\.json$/i.test(p)) return 'HeadKV retrieval-reasoning head scores';
  if (/Important_Head\/head_score\//i.test(p) || /_retrieval_heads\.json$/i.test(p)) return 'HeadKV retrieval head scores';
  if (/(^|\/)retrieval_heads\/[^/]+\.json$/i.test(p)) return 'DeCoRe retrieval heads';
  return 'reference head_score format';
}

/** "12-3" -> [12, 3], bounded; throws naming the bad entry. */
export function parseHeadKey(key: string, source: string): [number, number] {
  const m = /^\s*(\d{1,9})-(\d{1,9})\s*$/.exec(key);
  if (!m) throw bad(source, `"${key}" is not "layer-head"`);
  const [l, h] = [Number(m[1]), Number(m[2])];
  if (l >= MAX_LAYERS || h >= MAX_HEADS)
    throw bad(source, `head "${key}": layer and head indices must be below ${MAX_LAYERS} and ${MAX_HEADS}`);
  return [l, h];
}

/** A scores file holding one final [layers][heads] matrix as its one counted case. */
export function matrixScores(scores: number[][], model: ScoresFile['model'], settings: ScoresSettings): ScoresFile {
  const c: CaseResult = {
    length: 0,
    depth: 0,
    needleId: 'imported',
    promptTokens: 0,
    span: [0, 0],
    success: true,
    rougeRecall: 1,
    response: '',
    question: '',
    scores,
  };
  const file = summarize(model, settings, [c]);
  file.summary.accuracy = { lengths: [], depths: [], values: [] };
  return file;
}

/** Scores of the heads listed (in file order), 0 for the others; sizes from the largest indices. */
function fromHeadScores(
  entries: [number, number, number][],
  source: string,
  settings: ScoresSettings,
  minLayers = 0,
  minHeads = 0,
): ScoresFile {
  const layers = Math.max(minLayers, ...entries.map((e) => e[0] + 1));
  const heads = Math.max(minHeads, ...entries.map((e) => e[1] + 1));
  const m = Array.from({ length: layers }, () => new Array<number>(heads).fill(0));
  const seen = new Set<string>();
  for (const [l, h, v] of entries) {
    if (seen.has(`${l}-${h}`)) throw bad(source, `head ${l}-${h} is listed twice`);
    seen.add(`${l}-${h}`);
    m[l][h] = v;
  }
  // Every head listed: the sizes are known; otherwise they are only the largest indices seen.
  const complete = seen.size === layers * heads;
  return matrixScores(m, { id: source, layers, heads }, { ...settings, ...(complete ? {} : { headList: true }) });
}

/** A ranked list without scores: the first of n heads scores 1, the last 1/n, unlisted heads 0. */
function fromRankedHeads(keys: string[], source: string, what: string): ScoresFile {
  const heads = keys.map((k) => parseHeadKey(k, source));
  if (heads.length === 0) throw bad(source, `${what} names no heads`);
  const n = heads.length;
  return fromHeadScores(
    heads.map(([l, h], i) => [l, h, (n - i) / n]),
    source,
    { source: `${what} (ranked: scores are (n - rank) / n)` },
  );
}

/** QRHead's attn_head_set value: "l-h,l-h,..." (empty items skipped, as its predefined sets have them). */
function headSet(value: string, source: string): ScoresFile {
  const v = value.trim();
  if (/^full(_heads?)?$/i.test(v)) throw bad(source, `its attn_head_set is "${v}" (every head), which names no heads`);
  const keys = v.split(',').filter((x) => x.trim() !== '');
  return fromRankedHeads(keys, source, 'QRHead attn_head_set');
}

/** QRHead's JSON forms, or null when `v` is none of them. */
export function fromQrheadJson(v: unknown, source: string): ScoresFile | null {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const set = (v as Record<string, unknown>).attn_head_set;
    return typeof set === 'string' ? headSet(set, source) : null;
  }
  if (!Array.isArray(v) || v.length === 0) return null;
  if (v.every((x) => typeof x === 'string')) return fromRankedHeads(v as string[], source, 'QRHead head list');
  const pair = (x: unknown) =>
    Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'number' && Number.isFinite(x[1]);
  if (!v.every(pair)) return null;
  const entries = (v as [string, number][]).map(([k, s]) => [...parseHeadKey(k, source), s] as [number, number, number]);
  return fromHeadScores(entries, source, { source: 'QRHead head scores' });
}

/** A QRHead YAML config (`attn_head_set: "..."`), or null when the text has no such line. */
export function fromQrheadYaml(text: string, source: string): ScoresFile | null {
  const m = /^\s*attn_head_set\s*:\s*(?:"([^"]*)"|'([^']*)'|([^#\n]*))/m.exec(text);
  if (!m) return null;
  return headSet(m[1] ?? m[2] ?? m[3] ?? '', source);
}

/** DuoAttention's gates (layers x KV heads, whitespace-separated numbers), or null when the text is not a table of numbers. */
export function fromDuoTsv(text: string, source: string): ScoresFile | null {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) return null;
  const number = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const rows = lines.map((l) => l.trim().split(/\s+/));
  if (!rows.every((r) => r.every((x) => number.test(x)))) return null;
  const kvHeads = rows[0].length;
  const uneven = rows.findIndex((r) => r.length !== kvHeads);
  if (uneven >= 0)
    throw bad(source, `line ${uneven + 1} of the DuoAttention table has ${rows[uneven].length} values, line 1 has ${kvHeads}`);
  if (rows.length > MAX_LAYERS || kvHeads > MAX_HEADS)
    throw bad(source, `a ${rows.length} x ${kvHeads} table is larger than ${MAX_LAYERS} x ${MAX_HEADS}`);
  const m = rows.map((r) => r.map(Number));
  return matrixScores(
    m,
    { id: source, layers: rows.length, heads: kvHeads, kvHeads },
    { source: 'DuoAttention full_attention_heads.tsv (gates per KV head)', level: 'kv' },
  );
}
