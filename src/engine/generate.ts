// The decoding loop. As the paper's code: prefill prompt[:-1] (unmasked unless scope is 'all'),
// then feed the last prompt token and decode one token per step, reading attention at each step.
import type { Runner, Sequence } from './runner.js';
import type { PrefixCache } from './prefix.js';
import { makeSampler } from './sampling.js';
import { RetrievalLensError, cancelled } from '../shared/errors.js';
import type { AttentionNodeInfo, GenerateOptions, GenerateResult, GenerateStep, HeadRef, ModelInfo, TextTokenizer } from './types.js';

/** MaskSpec heads -> flattened [layers, heads] with 0 for masked heads. */
export function maskTensor(heads: HeadRef[], layers: number, perLayer: number): Float32Array {
  const m = new Float32Array(layers * perLayer).fill(1);
  for (const { layer, head } of heads) {
    if (!Number.isInteger(layer) || !Number.isInteger(head) || layer < 0 || layer >= layers || head < 0 || head >= perLayer) {
      throw new RetrievalLensError('BAD_INPUT', `head ${layer}:${head} does not exist (model has ${layers} layers x ${perLayer} heads)`);
    }
    m[layer * perLayer + head] = 0;
  }
  return m;
}

/** False when logits hold NaN: what damaged weights compute (no token can be chosen from them). */
export function finiteLogits(logits: Float32Array): boolean {
  for (let i = 0; i < logits.length; i++) if (logits[i] !== logits[i]) return false;
  return true;
}

/** The next token, refusing NaN logits with a message rather than picking token 0 from them. */
export function pickToken(sample: (l: Float32Array) => number, logits: Float32Array, position: number): number {
  if (!finiteLogits(logits))
    throw new RetrievalLensError(
      'RUNTIME',
      `the model computed NaN logits at position ${position}: its weights are damaged, or this dtype overflows here`,
    );
  return sample(logits);
}

/** Refuses the uniform mask on layers where it would not be uniform (attention sinks, additive biases). */
function checkUniformMask(heads: HeadRef[], sites: AttentionNodeInfo[]): void {
  for (const { layer, head } of heads) {
    const caveat = sites[layer]?.uniformCaveat;
    if (caveat) {
      throw new RetrievalLensError(
        'BAD_INPUT',
        `cannot mask head ${layer}:${head} the paper's way (uniform attention): layer ${layer} ${caveat}; use mask mode "zero"`,
      );
    }
  }
}

/** What generate and generateBatch share: checked options, the mask tensor and the sampler. */
export function prepare(info: ModelInfo, promptIds: number[], opts: GenerateOptions, sites: AttentionNodeInfo[]) {
  if (promptIds.length === 0) throw new RetrievalLensError('EMPTY_INPUT', 'the prompt is empty');
  const outside = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= info.vocabSize);
  if (outside !== undefined) {
    throw new RetrievalLensError(
      'CONFIG_MISMATCH',
      `the prompt has token id ${outside}, outside the model's ${info.vocabSize}-token vocabulary: the tokenizer does not belong to this model`,
    );
  }
  if (promptIds.length >= info.contextLength) {
    throw new RetrievalLensError(
      'CONTEXT_TOO_LONG',
      `the prompt has ${promptIds.length} tokens but the model's context length is ${info.contextLength}`,
    );
  }
  if (opts.maxNewTokens !== undefined && !(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) {
    throw new RetrievalLensError('BAD_INPUT', `max new tokens must be a positive integer, got ${opts.maxNewTokens}`);
  }
  const mask = opts.mask?.heads.length ? maskTensor(opts.mask.heads, info.layers, info.heads) : null;
  const uniform = (opts.mask?.mode ?? 'uniform') === 'uniform';
  if (mask && uniform) checkUniformMask(opts.mask!.heads, sites);
  return {
    maxNew: Math.min(opts.maxNewTokens ?? 50, info.contextLength - promptIds.length),
    stops: new Set(opts.stopTokens ?? info.eosTokenIds),
    eos: new Set(info.eosTokenIds),
    mask,
    uniform,
    prefillMask: opts.mask?.scope === 'all' ? mask : null,
  };
}

/** Prefills prompt[:-1] (from the shared-prefix cache where it can) into a new sequence. */
export async function prefillPrompt(
  runner: Runner,
  promptIds: number[],
  opts: GenerateOptions,
  prefillMask: Float32Array | null,
  uniform: boolean,
  maxNew = 0,
): Promise<Sequence> {
  // A prefill under masks differs from the cached (unmasked) one: no reuse then.
  const prefix = prefillMask ? undefined : (opts.prefix as PrefixCache | undefined);
  const head = promptIds.slice(0, -1);
  const seq = prefix ? prefix.start(head) : runner.newSequence();
  // The whole run's room at once: a shared cache then never grows (and copies) mid-run.
  seq.reserve(promptIds.length + maxNew);
  const reused = seq.length;
  await seq.prefill(head.slice(reused), { mask: prefillMask, uniform, logits: false, signal: opts.signal });
  if (prefix) {
    prefix.reused += reused;
    prefix.computed += head.length - reused;
    prefix.offer(head, seq);
  }
  return seq;
}

export function finish(
  tokenizer: TextTokenizer,
  promptIds: number[],
  tokenIds: number[],
  steps: GenerateStep[],
  stoppedBy: GenerateResult['stoppedBy'],
  eos: Set<number>,
): GenerateResult {
  const text = tokenizer.decode(
    tokenIds.filter((t) => !eos.has(t)),
    { skipSpecialTokens: true },
  );
  return { promptTokens: promptIds.length, tokenIds, text, steps, stoppedBy };
}

export async function generate(
  runner: Runner,
  info: ModelInfo,
  tokenizer: TextTokenizer,
  promptIds: number[],
  opts: GenerateOptions = {},
  sites: AttentionNodeInfo[] = [],
): Promise<GenerateResult> {
  const { maxNew, stops, eos, mask, uniform, prefillMask } = prepare(info, promptIds, opts, sites);
  const sample = makeSampler(opts.sampling);
  const signal = opts.signal;
  if (signal?.aborted) throw cancelled();
  const seq = await prefillPrompt(runner, promptIds, opts, prefillMask, uniform, maxNew);
  let input = promptIds[promptIds.length - 1];
  const tokenIds: number[] = [];
  const steps: GenerateStep[] = [];
  let stoppedBy: GenerateResult['stoppedBy'] = 'max-tokens';
  for (let i = 0; i < maxNew; i++) {
    if (signal?.aborted) throw cancelled();
    const position = seq.length;
    const out = await seq.forward([input], { mask, uniform, attention: Boolean(opts.attention) });
    const token = pickToken(sample, out.logits!, position);
    const step: GenerateStep = { token, position };
    if (out.attention) step.attention = { kvLen: out.kvLen, rows: out.attention };
    opts.onStep?.(step, i);
    if (!opts.keepAttention) delete step.attention;
    steps.push(step);
    tokenIds.push(token);
    if (stops.has(token)) {
      stoppedBy = eos.has(token) ? 'eos' : 'stop-token';
      break;
    }
    input = token;
  }
  return finish(tokenizer, promptIds, tokenIds, steps, stoppedBy, eos);
}
