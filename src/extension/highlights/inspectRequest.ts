// The worker request behind highlights and re-generation: one generation on the run's text with
// a needle inserted, keeping every head's strongest attended positions.
import type { Lens } from '../lens.js';
import type { Needle } from '../../method/types.js';
import { DEFAULT_NEEDLES } from '../methodApi.js';
import { modelRef, readSettings, type Settings } from '../settings.js';

/** The needle for highlights and re-generation: the user's first, else the method's first. */
export function inspectNeedle(s: Settings, preferId?: string): Needle {
  const all = s.needles.length ? s.needles : (DEFAULT_NEEDLES as Needle[]);
  return all.find((n) => n.id === preferId) ?? all[0];
}

/** The needle of the run's last case, asked with the user's question when there is one. */
export function needleFor(lens: Lens, question?: string): Needle {
  const lastCase = lens.store.current?.scores.cases.at(-1);
  const n = inspectNeedle(readSettings(), lastCase?.needleId);
  return question && question.trim() ? { ...n, question: question.trim() } : n;
}

export function inspectRequest(lens: Lens, needle: Needle, masked: boolean) {
  const s = readSettings();
  const { store } = lens;
  const run = store.current!;
  const maxPrompt = Math.max(...(run.scores.summary?.accuracy?.lengths?.length ? run.scores.summary.accuracy.lengths : s.lengths));
  const masks = store.masks.list();
  return {
    kind: 'inspect' as const,
    model: modelRef(s, lens.context),
    text: run.doc!.eol.text,
    needle,
    depth: s.highlightDepth,
    maxPromptTokens: maxPrompt,
    maxNewTokens: s.maxNewTokens,
    mask: masked && masks.length ? { heads: masks, mode: store.maskMode, scope: store.maskScope } : undefined,
    topPositions: 32,
  };
}
