// Adapters from worker requests to the method's detection and ablation runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../shared/paths.js';
import type { LoadedModel } from '../engine/index.js';
import type { AblationFile, ScoresFile } from '../method/types.js';
import type { AblateRequest, DetectRequest, JobProgress } from './protocol.js';

type Tick = { done: number; total: number; etaMs?: number };
const forward = (progress: (p: JobProgress) => void) => (p: Tick) =>
  progress({ stage: 'run', done: p.done, total: p.total, etaMs: p.etaMs });

// Loaded on first use: a worker that only generates never pays for the method's imports.
export async function runDetect(
  model: LoadedModel,
  req: DetectRequest,
  signal: AbortSignal,
  progress: (p: JobProgress) => void,
): Promise<ScoresFile> {
  const { runDetection } = await import('../method/detect.js');
  return runDetection(
    model,
    {
      haystack: req.haystack,
      needles: req.needles?.length ? req.needles : undefined,
      lengths: req.lengths,
      depths: req.depths,
      maxNewTokens: req.maxNewTokens,
      threshold: req.threshold,
    },
    { onProgress: forward(progress), onPartial: partials(progress), signal },
  );
}

/** The scores so far, after the first case and then at most every PARTIAL_EVERY_MS: each is a whole file. */
const PARTIAL_EVERY_MS = 1000;
function partials(progress: (p: JobProgress) => void) {
  let last = 0;
  return (partial: ScoresFile, done: number, total: number) => {
    const now = Date.now();
    if (done < total && last && now - last < PARTIAL_EVERY_MS) return;
    last = now;
    progress({ stage: 'run', done, total, partial });
  };
}

export async function runAblate(
  model: LoadedModel,
  req: AblateRequest,
  signal: AbortSignal,
  progress: (p: JobProgress) => void,
): Promise<AblationFile> {
  const { runAblation } = await import('../method/ablate.js');
  return runAblation(
    model,
    req.scores,
    {
      ks: req.ks,
      randomTrials: req.randomTrials,
      seed: req.seed,
      // No text of the user's: the bundled public-domain haystack.
      haystack: req.haystack ?? [readFileSync(join(packageRoot(), 'data', 'haystack', 'shakespeare.txt'), 'utf8')],
      needles: req.needles?.length ? req.needles : undefined,
      lengths: req.lengths,
      depths: req.depths,
      maxNewTokens: req.maxNewTokens,
      maskMode: req.maskMode,
      maskScope: req.maskScope,
    },
    { onProgress: forward(progress), signal },
  );
}
