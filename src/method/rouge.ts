// ROUGE-1 recall as Google's rouge_score with use_stemmer=True (what the reference calls):
// lowercase, non-alphanumerics become spaces, tokens longer than 3 characters are stemmed with
// NLTK's Porter stemmer, recall = clipped unigram overlap / reference unigrams.
import { porterStem } from './porter.js';

export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter((t) => t.length > 0)
    .map((t) => (t.length > 3 ? porterStem(t) : t));
}

/** rouge_score's score(target=reference, prediction=candidate)['rouge1'].recall. */
export function rouge1Recall(reference: string, candidate: string): number {
  const ref = rougeTokens(reference);
  if (ref.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of rougeTokens(candidate)) counts.set(t, (counts.get(t) ?? 0) + 1);
  let hit = 0;
  for (const t of ref) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      hit++;
      counts.set(t, c - 1);
    }
  }
  return hit / ref.length;
}
