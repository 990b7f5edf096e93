// Adapters from worker requests to the method's detection and ablation runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../shared/paths.js';
import type { LoadedModel } from '../engine/index.js';
import type { AblationFile, ScoresFile } from '../method/types.js';
import type {
  AblateRequest,
  AttributeRequest,
  AttributionResult,
  DecoreRequest,
  DetectRequest,
  JobProgress,
  KvWhatifRequest,
  KvWhatifResult,
  WorkerResults,
} from './protocol.js';

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
  const hooks = { onProgress: forward(progress), onPartial: partials(progress), signal };
  const method = req.method ?? 'paper';
  if (method === 'echo' || method === 'induction') {
    const { runPatternDetection } = await import('../method/detectors/run.js');
    return runPatternDetection(model, method, { threshold: req.threshold }, hooks);
  }
  const opts = {
    haystack: req.haystack,
    needles: req.needles?.length ? req.needles : undefined,
    lengths: req.lengths,
    depths: req.depths,
    maxNewTokens: req.maxNewTokens,
    threshold: req.threshold,
  };
  if (method === 'qrhead') {
    const { runQrheadDetection } = await import('../method/detectors/run.js');
    return runQrheadDetection(model, opts, hooks);
  }
  const { runDetection } = await import('../method/detect.js');
  return runDetection(model, opts, hooks);
}

/** No text of the user's: the bundled public-domain haystack, as the ablation uses. */
const bundledHaystack = () => [readFileSync(join(packageRoot(), 'data', 'haystack', 'shakespeare.txt'), 'utf8')];

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
      haystack: req.haystack ?? bundledHaystack(),
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

export async function runKvWhatifReq(
  model: LoadedModel,
  req: KvWhatifRequest,
  signal: AbortSignal,
  progress: (p: JobProgress) => void,
): Promise<KvWhatifResult> {
  const { runKvWhatif } = await import('../method/kvWhatif.js');
  return runKvWhatif(
    model,
    req.scores,
    {
      ks: req.ks,
      window: req.window,
      sink: req.sink,
      randomTrials: req.randomTrials,
      seed: req.seed,
      haystack: bundledHaystack(),
      lengths: req.lengths,
      depths: req.depths,
      needles: req.needles?.length ? req.needles : undefined,
      maxNewTokens: req.maxNewTokens,
    },
    { onProgress: forward(progress), signal },
  );
}

export async function runDecoreReq(
  model: LoadedModel,
  req: DecoreRequest,
  signal: AbortSignal,
  tick: (done: number) => void,
): Promise<WorkerResults['decore']> {
  const { decoreGenerate } = await import('../method/decore.js');
  const { tokenizer, info } = model;
  // Stops where the inspect run that made the other two answers stops: end of text or a newline.
  const stops = [...info.eosTokenIds];
  if (tokenizer.newlineTokenId !== null) stops.push(tokenizer.newlineTokenId);
  const r = await decoreGenerate(model, tokenizer.encode(req.prompt), {
    heads: req.heads,
    mode: req.mode,
    scope: req.scope,
    maxNewTokens: req.maxNewTokens,
    stopTokens: stops,
    signal,
    onStep: (_c, i) => tick(i + 1),
  });
  return {
    text: r.text,
    tokens: r.tokenIds.map((t) => tokenizer.decode([t], { skipSpecialTokens: true })),
    alphas: r.steps.map((s) => s.alpha),
  };
}

export async function runAttributeReq(
  model: LoadedModel,
  req: AttributeRequest,
  signal: AbortSignal,
  tick: (done: number) => void,
): Promise<AttributionResult> {
  const [{ attribute }, { pickHeads }] = await Promise.all([import('../method/attributionRun.js'), import('../method/heads.js')]);
  const heads = pickHeads(req.scores, model.info, req.k);
  return attribute(model, req.text, req.question, heads, { maxNewTokens: req.maxNewTokens, signal, onStep: tick });
}
