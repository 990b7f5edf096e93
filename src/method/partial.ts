// Partial detection results: written after every case (so an interrupted grid resumes where it
// stopped) and by each shard of a grid split across machines; merge() turns the parts into exactly
// the scores file one unsharded run writes.
import { RetrievalLensError } from '../shared/errors.js';
import { summarize } from './aggregate.js';
import { caseKey, planCases, shardCases, type Shard } from './grid.js';
import type { CaseResult, DetectionSettings, Needle, ScoresFile } from './types.js';

export const PARTIAL_FORMAT = 'retrieval-lens/partial@1';

export interface PartialFile {
  format: typeof PARTIAL_FORMAT;
  model: ScoresFile['model'];
  settings: DetectionSettings;
  /** Absent: the whole grid. */
  shard?: Shard;
  /** Cases this part must hold when complete. */
  planned: number;
  cases: CaseResult[];
}

const bad = (source: string, why: string) => new RetrievalLensError('BAD_SCORES_FILE', `${source}: ${why}`);

export function partialFile(
  model: ScoresFile['model'],
  settings: DetectionSettings,
  planned: number,
  cases: CaseResult[],
  shard?: Shard,
): PartialFile {
  const out: PartialFile = { format: PARTIAL_FORMAT, model, settings, planned, cases };
  if (shard) out.shard = shard;
  return out;
}

export function parsePartial(text: string, source: string): PartialFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw bad(source, `not JSON (${(e as Error).message})`);
  }
  const p = v as PartialFile;
  if (!p || typeof p !== 'object' || p.format !== PARTIAL_FORMAT)
    throw bad(source, `not a partial detection file (format ${PARTIAL_FORMAT})`);
  if (!p.model || !Number.isInteger(p.model.layers) || !Number.isInteger(p.model.heads)) throw bad(source, 'model missing');
  if (!p.settings || !Array.isArray(p.settings.lengths) || !Array.isArray(p.settings.depths) || !Array.isArray(p.settings.needles))
    throw bad(source, 'settings missing');
  if (!Array.isArray(p.cases) || !Number.isInteger(p.planned)) throw bad(source, 'cases missing');
  if (
    p.shard &&
    !(Number.isInteger(p.shard.index) && Number.isInteger(p.shard.count) && p.shard.index >= 0 && p.shard.index < p.shard.count)
  )
    throw bad(source, 'bad shard');
  for (const [i, c] of p.cases.entries()) {
    const ok =
      c &&
      typeof c.success === 'boolean' &&
      Array.isArray(c.scores) &&
      c.scores.length === p.model.layers &&
      c.scores.every((r) => Array.isArray(r) && r.length === p.model.heads);
    if (!ok) throw bad(source, `case ${i + 1} is malformed`);
  }
  return p;
}

function sameRun(a: PartialFile, b: PartialFile): string | null {
  if (JSON.stringify(a.settings) !== JSON.stringify(b.settings)) return 'their detection settings differ';
  if (a.model.layers !== b.model.layers || a.model.heads !== b.model.heads) return 'they are for models of different sizes';
  if (a.model.sha256 && b.model.sha256 && a.model.sha256 !== b.model.sha256) return 'they are for different models (ONNX sha256 differs)';
  if ((a.shard?.count ?? 1) !== (b.shard?.count ?? 1))
    return `one splits the grid into ${a.shard?.count ?? 1} shards, the other into ${b.shard?.count ?? 1}`;
  return null;
}

/** Whether a partial file can be resumed by a run with these settings and model. */
export function resumable(
  p: PartialFile,
  model: ScoresFile['model'],
  settings: DetectionSettings,
  shard: Shard | undefined,
  source: string,
): CaseResult[] {
  const why = sameRun(p, partialFile(model, settings, 0, [], shard));
  if (why) throw new RetrievalLensError('BAD_INPUT', `cannot resume from ${source}: ${why}; run without --resume to start over`);
  if ((p.shard?.index ?? 0) !== (shard?.index ?? 0))
    throw new RetrievalLensError(
      'BAD_INPUT',
      `cannot resume from ${source}: it holds shard ${(p.shard?.index ?? 0) + 1}, not ${(shard?.index ?? 0) + 1}`,
    );
  return p.cases;
}

/**
 * Combines the parts of one sharded (or resumed) grid into the scores file a single run writes:
 * every shard exactly once, every planned case present, cases in the grid's canonical order.
 */
export function mergeParts(parts: { file: PartialFile; source: string }[], needles: Needle[] | null = null): ScoresFile {
  if (parts.length === 0) throw new RetrievalLensError('BAD_INPUT', 'nothing to merge');
  const first = parts[0].file;
  for (const p of parts.slice(1)) {
    const why = sameRun(first, p.file);
    if (why) throw new RetrievalLensError('BAD_INPUT', `cannot merge ${parts[0].source} and ${p.source}: ${why}`);
  }
  const count = first.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const p of parts) {
    const i = p.file.shard?.index ?? 0;
    if (seen.has(i)) throw new RetrievalLensError('BAD_INPUT', `shard ${i + 1}/${count} is given twice (${seen.get(i)} and ${p.source})`);
    seen.set(i, p.source);
    if (p.file.cases.length !== p.file.planned)
      throw new RetrievalLensError(
        'BAD_INPUT',
        `${p.source} is incomplete: ${p.file.cases.length} of ${p.file.planned} cases; finish it with detect --resume`,
      );
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new RetrievalLensError('BAD_INPUT', `shard(s) ${missing.map((i) => `${i + 1}/${count}`).join(', ')} missing`);
  const s = first.settings;
  // The canonical order needs only the needle ids, in the order the run used.
  const ids = needles?.map((n) => n.id) ?? s.needles;
  const plan = planCases(
    s.lengths,
    s.depths,
    ids.map((id) => ({ id, needle: '', question: '', real_needle: '' })),
  );
  const byKey = new Map(parts.flatMap((p) => p.file.cases.map((c) => [caseKey(c), c] as const)));
  const cases: CaseResult[] = [];
  for (const g of plan) {
    const c = byKey.get(caseKey({ length: g.length, depth: g.depth, needleId: g.needle.id }));
    if (!c) throw new RetrievalLensError('BAD_INPUT', `case length ${g.length}, depth ${g.depth}, needle ${g.needle.id} is in no part`);
    cases.push(c);
  }
  if (byKey.size !== plan.length)
    throw new RetrievalLensError('BAD_INPUT', `the parts hold ${byKey.size} distinct cases but the grid has ${plan.length}`);
  return summarize(first.model, s, cases, s.threshold);
}

/** How many cases a shard of this grid holds (for a part's `planned`). */
export function shardSize(settings: DetectionSettings, shard: Shard | undefined): number {
  const plan = planCases(
    settings.lengths,
    settings.depths,
    settings.needles.map((id) => ({ id, needle: '', question: '', real_needle: '' })),
  );
  return shard ? shardCases(plan, shard).length : plan.length;
}
