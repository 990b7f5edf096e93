// The model worker: a child process forked by the extension host (dist/worker.js). It keeps one
// loaded model between requests, runs one request at a time and stops a run when the host sends
// cancel (the engine checks the signal before every decoding step).
import { loadModel } from '../engine/index.js';
import { RetrievalLensError } from '../shared/errors.js';
import type { LoadedModel } from '../engine/index.js';
import { inspect } from './inspect.js';
import { encodeBounded } from '../method/encode.js';
import { DEFAULT_MAX_NEW_TOKENS } from '../method/defaults.js';
import { runAblate, runAttributeReq, runDecoreReq, runDetect, runKvWhatifReq } from './methods.js';
import {
  eta,
  sameModel,
  validateHostMessage,
  type HostToWorker,
  type ModelRef,
  type JobProgress,
  type WorkerRequest,
  type WorkerResults,
  type WorkerToHost,
} from './protocol.js';

let current: { ref: ModelRef; model: LoadedModel } | undefined;
const controllers = new Map<number, AbortController>();
// One run at a time: onnxruntime already uses every core, and the model is shared.
let queue: Promise<unknown> = Promise.resolve();

function post(m: WorkerToHost): void {
  process.send?.(m);
}

async function getModel(ref: ModelRef, progress: (p: JobProgress) => void): Promise<LoadedModel> {
  if (current && sameModel(current.ref, ref)) return current.model;
  const old = current;
  current = undefined;
  await old?.model.dispose();
  progress({ stage: 'load', message: `loading ${ref.spec}` });
  const model = await loadModel(ref.spec, {
    dtype: ref.dtype || undefined,
    threads: ref.threads || undefined,
    executionProviders: ref.executionProviders?.length ? ref.executionProviders : undefined,
    cacheDir: ref.cacheDir || undefined,
    hubCacheDir: ref.hubCacheDir || undefined,
    onProgress: (p) => {
      const pct = p.total ? ` ${Math.round(((p.loaded ?? 0) / p.total) * 100)}%` : '';
      progress({ stage: 'load', message: `${p.message ?? p.stage}${p.file ? ` ${p.file}` : ''}${pct}`, done: p.loaded, total: p.total });
    },
  });
  current = { ref, model };
  return model;
}

async function handle(
  req: WorkerRequest,
  signal: AbortSignal,
  progress: (p: JobProgress) => void,
): Promise<WorkerResults[keyof WorkerResults]> {
  const model = await getModel(req.model, progress);
  if (signal.aborted) throw new RetrievalLensError('CANCELLED', 'cancelled');
  const started = Date.now();
  const counter = (total: number) => (done: number) =>
    progress({ stage: 'run', done, total, etaMs: eta(started, Date.now(), done, total) });
  switch (req.kind) {
    case 'load':
      return { info: model.info, attentionNodes: model.instrumentation.attention.length };
    case 'countTokens': {
      // A book-sized document: tokenized only as far as it takes to know it exceeds the context.
      const { tokens, atLeast } = encodeBounded(model.tokenizer, req.text, model.info.contextLength, { addSpecialTokens: false });
      return { tokens, atLeast, contextLength: model.info.contextLength };
    }
    case 'detect':
      return runDetect(model, req, signal, progress);
    case 'ablate':
      return runAblate(model, req, signal, progress);
    case 'generate': {
      const ids = model.tokenizer.encode(req.prompt);
      const stops = [...model.info.eosTokenIds];
      if (req.stopAtNewline && model.tokenizer.newlineTokenId !== null) stops.push(model.tokenizer.newlineTokenId);
      const tick = counter(req.maxNewTokens);
      const r = await model.generate(ids, {
        maxNewTokens: req.maxNewTokens,
        mask: req.mask?.heads.length ? req.mask : undefined,
        stopTokens: stops,
        signal,
        onStep: (_s, i) => tick(i + 1),
      });
      return {
        text: r.text,
        tokenIds: r.tokenIds,
        tokens: r.tokenIds.map((t) => model.tokenizer.decode([t], { skipSpecialTokens: true })),
        promptTokens: r.promptTokens,
        stoppedBy: r.stoppedBy,
      };
    }
    case 'inspect':
      return inspect(model, req, signal, counter(req.maxNewTokens));
    case 'kvWhatif':
      return runKvWhatifReq(model, req, signal, progress);
    case 'decore':
      return runDecoreReq(model, req, signal, counter(req.maxNewTokens));
    case 'attribute':
      return runAttributeReq(model, req, signal, counter(req.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS));
  }
}

function onMessage(raw: unknown): void {
  const bad = validateHostMessage(raw);
  if (bad) {
    const id = (raw as { id?: unknown })?.id;
    if (Number.isInteger(id)) post({ type: 'error', id: id as number, error: { code: 'BAD_INPUT', message: `bad request: ${bad}` } });
    return;
  }
  const m = raw as HostToWorker;
  if (m.type === 'cancel') {
    controllers.get(m.id)?.abort();
    return;
  }
  const ctrl = new AbortController();
  controllers.set(m.id, ctrl);
  const progress = (p: JobProgress) => post({ type: 'progress', id: m.id, progress: p });
  queue = queue.then(async () => {
    try {
      if (ctrl.signal.aborted) throw new RetrievalLensError('CANCELLED', 'cancelled');
      const result = await handle(m.request, ctrl.signal, progress);
      post({ type: 'result', id: m.id, result });
    } catch (e) {
      const err = e as Error;
      if (e instanceof RetrievalLensError) post({ type: 'error', id: m.id, error: { code: e.code, message: e.message } });
      else post({ type: 'error', id: m.id, error: { code: 'INTERNAL', message: err?.message ?? String(e), stack: err?.stack } });
    } finally {
      controllers.delete(m.id);
    }
  });
}

if (!process.send) {
  process.stderr.write('retrieval-lens worker: start me with child_process.fork (no IPC channel)\n');
  process.exit(2);
}
process.on('message', onMessage);
// The host going away means nobody wants the results.
process.on('disconnect', () => process.exit(0));
post({ type: 'ready', pid: process.pid });
