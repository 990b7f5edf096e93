// The decoding loop. As the paper's code: prefill prompt[:-1] (unmasked unless scope is 'all'),
// then feed the last prompt token and decode one token per step, reading attention at each step.
import type { Runner } from './runner.js';
import { makeSampler } from './sampling.js';
import { RetrievalLensError, cancelled } from './errors.js';
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

/** Refuses the uniform mask on layers where it would not be uniform (attention sinks, additive biases). */
function checkUniformMask(heads: HeadRef[], sites: AttentionNodeInfo[]): void {
  for (const { layer, head } of heads) {
    const caveat = sites[layer]?.uniformCaveat;
    if (caveat) {
      throw new RetrievalLensError('BAD_INPUT', `cannot mask head ${layer}:${head} the paper's way (uniform attention): layer ${layer} ${caveat}; use mask mode "zero"`);
    }
  }
}

export async function generate(runner: Runner, info: ModelInfo, tokenizer: TextTokenizer, promptIds: number[], opts: GenerateOptions = {}, sites: AttentionNodeInfo[] = []): Promise<GenerateResult> {
  if (promptIds.length === 0) throw new RetrievalLensError('EMPTY_INPUT', 'the prompt is empty');
  const outside = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= info.vocabSize);
  if (outside !== undefined) {
    throw new RetrievalLensError('CONFIG_MISMATCH', `the prompt has token id ${outside}, outside the model's ${info.vocabSize}-token vocabulary: the tokenizer does not belong to this model`);
  }
  if (promptIds.length >= info.contextLength) {
    throw new RetrievalLensError('CONTEXT_TOO_LONG', `the prompt has ${promptIds.length} tokens but the model's context length is ${info.contextLength}`);
  }
  if (opts.maxNewTokens !== undefined && !(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) {
    throw new RetrievalLensError('BAD_INPUT', `max new tokens must be a positive integer, got ${opts.maxNewTokens}`);
  }
  const maxNew = Math.min(opts.maxNewTokens ?? 50, info.contextLength - promptIds.length);
  const stops = new Set(opts.stopTokens ?? info.eosTokenIds);
  const eos = new Set(info.eosTokenIds);
  const mask = opts.mask?.heads.length ? maskTensor(opts.mask.heads, info.layers, info.heads) : null;
  const uniform = (opts.mask?.mode ?? 'uniform') === 'uniform';
  if (mask && uniform) checkUniformMask(opts.mask!.heads, sites);
  const prefillMask = opts.mask?.scope === 'all' ? mask : null;
  const sample = makeSampler(opts.sampling);
  const signal = opts.signal;

  if (signal?.aborted) throw cancelled();
  const seq = runner.newSequence();
  await seq.prefill(promptIds.slice(0, -1), { mask: prefillMask, uniform, logits: false, signal });
  let input = promptIds[promptIds.length - 1];
  const tokenIds: number[] = [];
  const steps: GenerateStep[] = [];
  let stoppedBy: GenerateResult['stoppedBy'] = 'max-tokens';
  for (let i = 0; i < maxNew; i++) {
    if (signal?.aborted) throw cancelled();
    const position = seq.length;
    const out = await seq.forward([input], { mask, uniform, attention: Boolean(opts.attention) });
    if (!finiteLogits(out.logits!)) throw new RetrievalLensError('RUNTIME', `the model computed NaN logits at position ${position}: its weights are damaged, or this dtype overflows here`);
    const token = sample(out.logits!);
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
  const text = tokenizer.decode(tokenIds.filter((t) => !eos.has(t)), { skipSpecialTokens: true });
  return { promptTokens: promptIds.length, tokenIds, text, steps, stoppedBy };
}
