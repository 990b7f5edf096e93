// Child of bench.ts, one context length: prefill speed, then decode ms/token of the original graph,
// the instrumented graph (reading every head's attention each step) and transformers.js generate()
// on the same folder, measured in interleaved rounds so machine load hits all three alike.
// Prints one JSON line. argv: modelDir ctx steps rounds tjs dtype, where tjs is 0 (ours only), 1
// (transformers.js interleaved with ours) or only (transformers.js alone, in a process of its own:
// its one-pass prefill of an 8K prompt holds ~11 GB of attention matrices, which next to our two
// sessions outgrew a 24 GB machine).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeModel, graphSession, runnerShape } from '../../src/engine/model.js';
import { chooseKVMode } from '../../src/engine/batch.js';
import { createSession } from '../../src/engine/session.js';
import { Runner, type Sequence } from '../../src/engine/runner.js';
import { argmax } from '../../src/engine/sampling.js';
import { KVCache } from '../../src/engine/kv.js';
import { promptIds } from './prompt.js';

const [dir, ctxArg, stepsArg, roundsArg, tjsArg, dtypeArg] = process.argv.slice(2);
const ctx = Number(ctxArg);
const steps = Number(stepsArg ?? 8);
const rounds = Number(roundsArg ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

async function decode(seq: Sequence, first: number, n: number, attention: boolean): Promise<number[]> {
  const times: number[] = [];
  let tok = first;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const out = await seq.forward([tok], { attention });
    times.push(performance.now() - t0);
    tok = argmax(out.logits!);
  }
  return times;
}

/**
 * transformers.js generate() on the same folder, timed per new token. With `resume`, its prompt's
 * cache comes from our engine (the original graph, no instrumentation): above 2K its own prefill is
 * one pass over the whole prompt, whose [heads, n, n] attention does not fit this machine at 8K, so
 * generate() continues from that cache (it feeds only the last prompt token itself) and the
 * per-token decode it then runs is its own.
 */
async function transformersJs(ids: number[], resume = false) {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = '';
  const cache = resume ? await prefilledCache(ids.slice(0, -1)) : null;
  const external = existsSync(join(dir, 'onnx')) && readdirSync(join(dir, 'onnx')).some((f) => /_data(_\d+)?$|\.data$/.test(f));
  const model = await tjs.AutoModelForCausalLM.from_pretrained(dir, {
    dtype: (dtypeArg || 'fp32') as 'fp32',
    local_files_only: true,
    use_external_data_format: external,
  } as never);
  const input_ids = new tjs.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
  const attention_mask = new tjs.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  return async (n: number): Promise<number[]> => {
    const stamps: number[] = [];
    // generate() calls put() with the prompt, then once per new token.
    const streamer = { put: () => stamps.push(performance.now()), end: () => undefined };
    // A fresh cache object each round: generate() appends to the one it is given.
    const past_key_values = cache
      ? new tjs.DynamicCache(Object.fromEntries(cache.map(([name, data, dims]) => [name, new tjs.Tensor('float32', data.slice(), dims)])))
      : undefined;
    await (model as unknown as { generate: (o: object) => Promise<unknown> }).generate({
      input_ids,
      attention_mask,
      ...(past_key_values ? { past_key_values } : {}),
      max_new_tokens: n + 1,
      do_sample: false,
      min_new_tokens: n + 1,
      streamer,
    });
    return stamps.slice(2).map((t, i) => t - stamps[i + 1]);
  };
}

/** The KV cache of `ids` from our engine's run of the original graph, as transformers.js names it. */
async function prefilledCache(ids: number[]): Promise<[string, Float32Array, number[]][]> {
  const d = await describeModel(dir, { dtype: dtypeArg || undefined });
  const a = d.arch;
  const shape = runnerShape(a, d.graph);
  const session = await createSession(d.onnxFile.path);
  const runner = new Runner(session, shape);
  runner.kvMode = await chooseKVMode(runner, d.graph.attention, a.vocabSize);
  const seq = runner.newSequence();
  seq.reserve(ids.length);
  await seq.prefill(ids, { logits: false });
  const out: [string, Float32Array, number[]][] = [];
  for (let l = 0; l < shape.layers; l++)
    for (const [k, kind] of ['key', 'value'].entries()) {
      const heads = seq.kv.rowData(0, 2 * l + k);
      const data = new Float32Array(shape.kvHeads * ids.length * shape.headDim);
      heads.forEach((h, i) => data.set(h as Float32Array, i * ids.length * shape.headDim));
      out.push([`past_key_values.${l}.${kind}`, data, [1, shape.kvHeads, ids.length, shape.headDim]]);
    }
  await session.release();
  return out;
}

async function transformersJsAlone(n: number, vocab: number) {
  let ms: number | null = null;
  let error: string | null = null;
  try {
    const run = await transformersJs(promptIds(n, vocab), n > ONE_PASS_MAX);
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) times.push(...(await run(steps)));
    ms = median(times);
  } catch (e) {
    error = (e as Error).message.split('\n')[0];
  }
  process.stdout.write(
    JSON.stringify({ ctx, transformersJsMs: ms, transformersJsError: error, transformersJsResumed: n > ONE_PASS_MAX }) + '\n',
  );
}

/** Longest prompt transformers.js prefills itself here; above it, generate() resumes from our cache. */
const ONE_PASS_MAX = 2048;

async function main() {
  const d = await describeModel(dir, { dtype: dtypeArg || undefined });
  const a = d.arch;
  const shape = runnerShape(a, d.graph);
  if (tjsArg === 'only') return transformersJsAlone(Math.min(ctx, a.contextLength - steps * rounds - 2), a.vocabSize);
  const inst = new Runner(await graphSession(d.graph), shape, d.graph.io);
  inst.kvMode = await chooseKVMode(inst, d.graph.attention, a.vocabSize);
  const plain = new Runner(await createSession(d.onnxFile.path), shape);
  // The original graph keeps GroupQueryAttention (shared buffers) where ours reads in place.
  plain.kvMode = inst.kvMode === 'append' ? await chooseKVMode(plain, d.graph.attention, a.vocabSize) : inst.kvMode;
  // The prompt plus the decoded tokens must fit the model's context.
  const ids = promptIds(Math.min(ctx, a.contextLength - steps * rounds - 2), a.vocabSize);
  // One prefill (the instrumented graph's KV cache is the original's) serves both variants.
  const t0 = performance.now();
  const base = inst.newSequence();
  const last = await base.prefill(ids);
  const prefillSeconds = (performance.now() - t0) / 1000;
  const first = argmax(last.logits!);
  const runs = { plain: [] as number[], instrumented: [] as number[], transformersJs: [] as number[] };
  let tjs: ((n: number) => Promise<number[]>) | null = null;
  let tjsError: string | null = null;
  if (tjsArg === '1') {
    try {
      tjs = await transformersJs(ids);
    } catch (e) {
      tjsError = (e as Error).message.split('\n')[0];
    }
  }
  for (let r = 0; r < rounds; r++) {
    const p = plain.newSequence();
    p.kv = KVCache.gather(shape, plain.kvMode, [{ cache: base.kv, row: 0, n: base.length }], steps);
    runs.plain.push(...(await decode(p, first, steps, false)));
    runs.instrumented.push(...(await decode(base.fork(base.length, steps), first, steps, true)));
    if (tjs) {
      try {
        runs.transformersJs.push(...(await tjs(steps)));
      } catch (e) {
        tjsError = (e as Error).message.split('\n')[0];
        tjs = null;
      }
    }
  }
  process.stdout.write(
    JSON.stringify({
      ctx,
      prefillTokensPerSec: ctx / prefillSeconds,
      plainMs: median(runs.plain),
      instrumentedMs: median(runs.instrumented),
      transformersJsMs: runs.transformersJs.length ? median(runs.transformersJs) : null,
      transformersJsError: tjsError,
      graphDtype: d.graph.graphDtype,
    }) + '\n',
  );
}
main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
