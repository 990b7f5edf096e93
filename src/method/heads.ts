// Which heads a method puts to work: the detected retrieval heads of a scores file (those at or
// above its threshold), or its top k by score, each with its score.
import { RetrievalLensError } from '../shared/errors.js';
import { rankHeads } from './ablate.js';
import type { ScoresFile } from './types.js';

export interface ScoredHead {
  layer: number;
  head: number;
  score: number;
}

/** The scores file's retrieval heads, or its top k heads by score; refuses scores of another model's shape. */
export function pickHeads(scores: ScoresFile, model: { layers: number; heads: number }, k?: number): ScoredHead[] {
  if (scores.model.layers !== model.layers || scores.model.heads !== model.heads) {
    throw new RetrievalLensError(
      'BAD_SCORES_FILE',
      `the scores are for ${scores.model.layers} x ${scores.model.heads} heads but the model has ${model.layers} x ${model.heads}`,
    );
  }
  const score = (h: { layer: number; head: number }) => ({ ...h, score: scores.scores[h.layer][h.head] });
  if (k !== undefined) {
    if (!(Number.isInteger(k) && k >= 1 && k <= model.layers * model.heads))
      throw new RetrievalLensError('BAD_INPUT', `k must be from 1 to the model's ${model.layers * model.heads} heads, got ${k}`);
    return rankHeads(scores.scores).slice(0, k).map(score);
  }
  const heads = scores.retrievalHeads.map(([layer, head]) => score({ layer, head }));
  if (!heads.length)
    throw new RetrievalLensError(
      'BAD_INPUT',
      'the scores file has no retrieval heads (none reaches its threshold): give how many top heads to use',
    );
  return heads;
}
