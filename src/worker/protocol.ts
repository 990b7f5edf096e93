// Messages between the extension host and the model worker (a forked child process). The host
// sends requests and cancels; the worker answers each request id with progress messages and then
// exactly one result or error. Sent with `serialization: 'advanced'` so typed arrays survive.
import type { ErrorCode } from '../shared/errors.js';
import type { MaskSpec, ModelInfo } from '../engine/index.js';
import type { AblationFile, Needle, ScoresFile } from '../method/types.js';
import type { PromptSegment } from '../method/document.js';
import type { KvWhatifResult } from '../method/kvWhatif.js';
import type { AttributionResult } from '../method/attributionRun.js';
export type { PromptSegment, KvWhatifResult, AttributionResult };

/** How heads are found: the paper's decoding detector (default), QRHead's question-focused one, or RazorAttention's echo/induction patterns. */
export type DetectMethod = 'paper' | 'qrhead' | 'echo' | 'induction';
export const DETECT_METHODS: readonly DetectMethod[] = ['paper', 'qrhead', 'echo', 'induction'];

/** Which model to run and how; the worker reloads when any field changes. */
export interface ModelRef {
  spec: string;
  dtype?: string;
  threads?: number;
  executionProviders?: string[];
  cacheDir?: string;
  /** Where Hub models ("hf:owner/name") are downloaded (the extension: the user's Hugging Face cache, else its global storage). */
  hubCacheDir?: string;
}

export interface DetectRequest {
  kind: 'detect';
  model: ModelRef;
  haystack: string[];
  lengths: number[];
  depths: number[];
  /** Needles to insert; empty or absent: the method's built-in needles. */
  needles?: Needle[];
  maxNewTokens: number;
  threshold: number;
  /** Absent: the paper's. echo/induction read no text: they score repeated random token sequences. */
  method?: DetectMethod;
}

export interface AblateRequest {
  kind: 'ablate';
  model: ModelRef;
  scores: ScoresFile;
  ks: number[];
  randomTrials: number;
  seed: number;
  haystack?: string[];
  lengths?: number[];
  depths?: number[];
  needles?: Needle[];
  maxNewTokens?: number;
  maskMode: MaskSpec['mode'];
  maskScope: MaskSpec['scope'];
}

export interface GenerateRequest {
  kind: 'generate';
  model: ModelRef;
  prompt: string;
  maxNewTokens: number;
  mask?: MaskSpec;
  /** Stop after a newline, as detection does. */
  stopAtNewline?: boolean;
}

/**
 * Build a needle prompt from the user's text (needle inserted at a sentence boundary near
 * `depth` percent), generate with attention, and report where every head looked.
 */
export interface InspectRequest {
  kind: 'inspect';
  model: ModelRef;
  /** The user's text (LF line ends); prompt offsets map back to it through `segments`. */
  text: string;
  needle: Needle;
  depth: number;
  /** Longest prompt in tokens; the text is cut to fit. */
  maxPromptTokens: number;
  maxNewTokens: number;
  mask?: MaskSpec;
  /** How many strongest positions per head and step to report. */
  topPositions: number;
}

/** KV-cache what-if on the ablation's fresh cases: top-k heads (their KV heads) keep the whole cache, the rest sink + window. */
export interface KvWhatifRequest {
  kind: 'kvWhatif';
  model: ModelRef;
  scores: ScoresFile;
  ks: number[];
  window: number;
  sink: number;
  randomTrials: number;
  seed: number;
  lengths?: number[];
  depths?: number[];
  needles?: Needle[];
  maxNewTokens?: number;
}

/** DeCoRe decoding of a prompt: the base model contrasted with itself with `heads` masked. */
export interface DecoreRequest {
  kind: 'decore';
  model: ModelRef;
  prompt: string;
  heads: { layer: number; head: number }[];
  mode: MaskSpec['mode'];
  scope: MaskSpec['scope'];
  maxNewTokens: number;
}

/** Answer a question about the user's text and say, per answer token, which sentences the retrieval heads read. */
export interface AttributeRequest {
  kind: 'attribute';
  model: ModelRef;
  /** The document text exactly as the editor has it (CRLF kept): offsets come back in UTF-16 units of it. */
  text: string;
  question: string;
  /** The heads used: this file's retrieval heads (or its top k). */
  scores: ScoresFile;
  k?: number;
  maxNewTokens?: number;
}

export interface LoadRequest {
  kind: 'load';
  model: ModelRef;
}

export interface CountTokensRequest {
  kind: 'countTokens';
  model: ModelRef;
  text: string;
}

export type WorkerRequest =
  | LoadRequest
  | CountTokensRequest
  | DetectRequest
  | AblateRequest
  | GenerateRequest
  | InspectRequest
  | KvWhatifRequest
  | DecoreRequest
  | AttributeRequest;
export type RequestKind = WorkerRequest['kind'];

export interface GenerateResponse {
  text: string;
  tokenIds: number[];
  /** Each generated token's text, for word-level comparison and stepping. */
  tokens: string[];
  promptTokens: number;
  stoppedBy: 'eos' | 'stop-token' | 'max-tokens';
}

/** A piece of the prompt copied from the user's text: prompt[promptStart, promptEnd) = text[textStart, ...). */
export interface InspectStep {
  token: number;
  text: string;
  /** Per head (index layer * heads + head): strongest positions and their weights, descending. */
  top: { pos: Int32Array; w: Float32Array }[];
}

export interface InspectResponse {
  prompt: string;
  question: string;
  needle: Needle;
  /** Each prompt token's text and its [start, end) in `prompt` (UTF-16 units). */
  tokens: { text: string; start: number; end: number }[];
  /** Token range [start, end) of the needle's answer span in the prompt. */
  needleSpan: [number, number];
  /** Token range [start, end) of the question in the prompt ([0, 0] when the template has none). */
  questionSpan: [number, number];
  /** Where the needle was inserted, as an offset into the request's `text`. */
  needleTextOffset: number;
  /** Prompt character range of the inserted needle sentence. */
  needleChars: [number, number];
  segments: PromptSegment[];
  /** Characters of the request's text that fit in the prompt. */
  textUsed: number;
  steps: InspectStep[];
  answer: string;
  layers: number;
  heads: number;
}

export interface ModelSummary {
  info: ModelInfo;
  attentionNodes: number;
}

export interface WorkerResults {
  load: ModelSummary;
  /** atLeast: the text was tokenized only until it exceeded the context; tokens is a lower bound. */
  countTokens: { tokens: number; atLeast?: boolean; contextLength: number };
  detect: ScoresFile;
  ablate: AblationFile;
  generate: GenerateResponse;
  inspect: InspectResponse;
  kvWhatif: KvWhatifResult;
  decore: { text: string; tokens: string[]; alphas: number[] };
  attribute: AttributionResult;
}

export type ResultOf<K extends RequestKind> = WorkerResults[K];

export interface JobProgress {
  /** 'load' while a model loads; 'run' while cases/steps run. */
  stage: 'load' | 'run';
  message?: string;
  done?: number;
  total?: number;
  etaMs?: number;
  /** Detection only: the scores of the cases finished so far, so a map shows before the grid ends. */
  partial?: ScoresFile;
}

export interface WorkerErrorPayload {
  /** RetrievalLensError codes, plus WORKER_CRASHED from the host side. */
  code: ErrorCode | 'WORKER_CRASHED' | 'INTERNAL';
  message: string;
  stack?: string;
}

export type HostToWorker = { type: 'request'; id: number; request: WorkerRequest } | { type: 'cancel'; id: number };

export type WorkerToHost =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; id: number; progress: JobProgress }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: WorkerErrorPayload };

const KINDS: ReadonlySet<string> = new Set<RequestKind>([
  'load',
  'countTokens',
  'detect',
  'ablate',
  'generate',
  'inspect',
  'kvWhatif',
  'decore',
  'attribute',
]);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Checks a message from the host before the worker acts on it; returns why it is bad, or null. */
export function validateHostMessage(m: unknown): string | null {
  if (!isObj(m)) return 'message is not an object';
  if (m.type !== 'request' && m.type !== 'cancel') return `unknown message type ${JSON.stringify(m.type)}`;
  if (!Number.isInteger(m.id)) return 'message id must be an integer';
  if (m.type === 'cancel') return null;
  const r = m.request;
  if (!isObj(r)) return 'request is missing';
  if (typeof r.kind !== 'string' || !KINDS.has(r.kind)) return `unknown request kind ${JSON.stringify(r.kind)}`;
  if (!isObj(r.model) || typeof r.model.spec !== 'string' || !r.model.spec) return 'request.model.spec must be a non-empty string';
  return requestFieldProblem(r);
}

const isInt = (v: unknown, min = 1) => Number.isInteger(v) && (v as number) >= min;
const isNumbers = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * The fields each kind of request needs, with their types (the values' ranges are the method's to
 * check, with messages a user can act on). A request the extension could never send is refused here.
 */
function requestFieldProblem(r: Record<string, unknown>): string | null {
  const need = (ok: boolean, what: string) => (ok ? null : `request.${what}`);
  const mask = (m: unknown) =>
    m === undefined ||
    (isObj(m) && Array.isArray(m.heads) && m.heads.every((h) => isObj(h) && Number.isInteger(h.layer) && Number.isInteger(h.head)));
  switch (r.kind) {
    case 'countTokens':
      return need(typeof r.text === 'string', 'text must be a string');
    case 'generate':
      return (
        need(typeof r.prompt === 'string', 'prompt must be a string') ??
        need(isInt(r.maxNewTokens), 'maxNewTokens must be a positive integer') ??
        need(mask(r.mask), 'mask must be {heads: [{layer, head}], mode, scope}')
      );
    case 'inspect':
      return (
        need(typeof r.text === 'string', 'text must be a string') ??
        need(isObj(r.needle), 'needle must be an object') ??
        need(typeof r.depth === 'number' && (r.depth as number) >= 0 && (r.depth as number) <= 100, 'depth must be a percentage 0..100') ??
        need(
          isInt(r.maxPromptTokens) && isInt(r.maxNewTokens) && isInt(r.topPositions),
          'maxPromptTokens, maxNewTokens and topPositions must be positive integers',
        ) ??
        need(mask(r.mask), 'mask must be {heads: [{layer, head}], mode, scope}')
      );
    case 'detect':
      return (
        need(isStrings(r.haystack), 'haystack must be a list of texts') ??
        need(isNumbers(r.lengths) && isNumbers(r.depths), 'lengths and depths must be lists of numbers') ??
        need(r.needles === undefined || Array.isArray(r.needles), 'needles must be a list') ??
        need(r.maxNewTokens === undefined || typeof r.maxNewTokens === 'number', 'maxNewTokens must be a number') ??
        need(r.threshold === undefined || typeof r.threshold === 'number', 'threshold must be a number') ??
        need(
          r.method === undefined || DETECT_METHODS.includes(r.method as DetectMethod),
          `method must be one of ${DETECT_METHODS.join(', ')}`,
        )
      );
    case 'kvWhatif':
      return (
        need(isObj(r.scores), 'scores must be a scores file') ??
        need(isNumbers(r.ks), 'ks must be a list of numbers') ??
        need(
          isInt(r.window) && isInt(r.sink, 0) && isInt(r.randomTrials) && isInt(r.seed, 0),
          'window, sink, randomTrials and seed must be integers',
        )
      );
    case 'decore':
      return (
        need(typeof r.prompt === 'string', 'prompt must be a string') ??
        need(isInt(r.maxNewTokens), 'maxNewTokens must be a positive integer') ??
        need(mask({ heads: r.heads }), 'heads must be [{layer, head}]')
      );
    case 'attribute':
      return (
        need(typeof r.text === 'string' && typeof r.question === 'string', 'text and question must be strings') ??
        need(isObj(r.scores), 'scores must be a scores file') ??
        need(r.k === undefined || isInt(r.k), 'k must be a positive integer')
      );
    case 'ablate':
      return (
        need(isObj(r.scores), 'scores must be a scores file') ??
        need(isNumbers(r.ks), 'ks must be a list of numbers') ??
        need(r.haystack === undefined || isStrings(r.haystack), 'haystack must be a list of texts') ??
        need(
          (r.lengths === undefined || isNumbers(r.lengths)) && (r.depths === undefined || isNumbers(r.depths)),
          'lengths and depths must be lists of numbers',
        ) ??
        need(r.needles === undefined || Array.isArray(r.needles), 'needles must be a list')
      );
    default:
      return null;
  }
}

/** Checks a message from the worker; returns why it is bad, or null. */
export function validateWorkerMessage(m: unknown): string | null {
  if (!isObj(m)) return 'message is not an object';
  switch (m.type) {
    case 'ready':
      return null;
    case 'progress':
      return Number.isInteger(m.id) && isObj(m.progress) ? null : 'bad progress message';
    case 'result':
      return Number.isInteger(m.id) && 'result' in m ? null : 'bad result message';
    case 'error':
      return Number.isInteger(m.id) && isObj(m.error) && typeof m.error.message === 'string' ? null : 'bad error message';
    default:
      return `unknown message type ${JSON.stringify(m.type)}`;
  }
}

/** Same model, same settings: the worker may reuse its loaded model. */
export function sameModel(a: ModelRef | undefined, b: ModelRef): boolean {
  if (!a) return false;
  return (
    a.spec === b.spec &&
    (a.dtype ?? '') === (b.dtype ?? '') &&
    (a.threads ?? 0) === (b.threads ?? 0) &&
    (a.executionProviders ?? ['cpu']).join(',') === (b.executionProviders ?? ['cpu']).join(',') &&
    (a.cacheDir ?? '') === (b.cacheDir ?? '') &&
    (a.hubCacheDir ?? '') === (b.hubCacheDir ?? '')
  );
}

/** Remaining time from the rate so far; undefined until something is done. */
export function eta(startedMs: number, nowMs: number, done: number, total: number): number | undefined {
  if (done <= 0 || total <= 0) return undefined;
  return Math.max(0, ((nowMs - startedMs) / done) * (total - done));
}
