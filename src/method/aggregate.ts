// From per-case head scores to the paper's summary: a head's retrieval score is the plain mean over
// counted (successful) cases; heads at or above the threshold are retrieval heads.
import type { CaseResult, ScoresFile } from './types.js';
import { DEFAULT_THRESHOLD } from './defaults.js';

export { DEFAULT_THRESHOLD };

/** Mean of the counted cases' [layers][heads] scores (zeros where no case counted). */
export function meanScores(cases: { scores: number[][] }[], layers: number, heads: number): number[][] {
  const sum = Array.from({ length: layers }, () => new Array<number>(heads).fill(0));
  for (const c of cases) for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) sum[l][h] += c.scores[l][h];
  const n = cases.length;
  return sum.map((row) => row.map((v) => (n ? v / n : 0)));
}

export function retrievalHeads(scores: number[][], threshold = DEFAULT_THRESHOLD): [number, number, number][] {
  const out: [number, number, number][] = [];
  scores.forEach((row, l) => row.forEach((s, h) => s >= threshold && out.push([l, h, s])));
  return out.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
}

/** Heads with a score > 0 in every counted case (the paper's "always active" heads). */
export function alwaysActive(cases: { scores: number[][] }[], layers: number, heads: number): [number, number][] {
  if (cases.length === 0) return [];
  const out: [number, number][] = [];
  for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) if (cases.every((c) => c.scores[l][h] > 0)) out.push([l, h]);
  return out;
}

/** NIAH accuracy (fraction of successful cases) per length x depth cell. */
export function accuracyGrid(cases: Pick<CaseResult, 'length' | 'depth' | 'success'>[]) {
  const lengths = [...new Set(cases.map((c) => c.length))].sort((a, b) => a - b);
  const depths = [...new Set(cases.map((c) => c.depth))].sort((a, b) => a - b);
  const values = lengths.map((len) =>
    depths.map((d) => {
      const cell = cases.filter((c) => c.length === len && c.depth === d);
      return cell.length ? cell.filter((c) => c.success).length / cell.length : 0;
    }),
  );
  return { lengths, depths, values };
}

export function summarize(
  model: ScoresFile['model'],
  settings: ScoresFile['settings'],
  cases: CaseResult[],
  threshold = DEFAULT_THRESHOLD,
): ScoresFile {
  const counted = cases.filter((c) => c.success);
  const scores = meanScores(counted, model.layers, model.heads);
  const rh = retrievalHeads(scores, threshold);
  return {
    format: 'retrieval-lens/scores@1',
    model,
    settings,
    cases,
    scores,
    retrievalHeads: rh,
    summary: {
      countedCases: counted.length,
      failedCases: cases.length - counted.length,
      fractionRetrieval: rh.length / (model.layers * model.heads),
      alwaysActive: alwaysActive(counted, model.layers, model.heads),
      // Detectors that generate nothing have no NIAH accuracy to show (every case counts).
      accuracy: settings.method && settings.method !== 'paper' ? { lengths: [], depths: [], values: [] } : accuracyGrid(cases),
    },
  };
}
