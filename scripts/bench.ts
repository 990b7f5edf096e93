// npm run bench [-- --model DIR] [--contexts 512,2048,8192,32768] [--json] [--no-detect]
//                [--no-transformers-js] [--steps 8] [--rounds 3] [--dtype D] [--detect-lengths L,..]
// Speed and memory of a model, measured in one run: memory bandwidth, then per context length
// prefill tokens/s, decode ms/token of the original graph, the instrumented graph and
// transformers.js generate() (interleaved), the memory roofline, peak RSS in a fresh process, and a
// detection grid run the engine's way and the plain way. Ratios within one run are what to
// compare: absolute numbers move with the machine's load. Without --model: the bundled organism.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeModel, runnerShape } from '../src/engine/model.js';
import { kvBytesPerPosition } from '../src/engine/kv.js';
import { defaultModelDir } from '../src/shared/paths.js';
import { measureBandwidthGBs, weightsBytes as modelWeightsBytes } from './bench/bandwidth.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const json = flag('json');
// With --json, stdout holds only the JSON object; the per-context lines go to stderr, so a run that
// dies part-way still leaves what it measured.
const log = (s: string) => (json ? process.stderr : process.stdout).write(s + '\n');

function child(script: string, args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'bench', script), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    const why = r.signal
      ? `killed by ${r.signal}${r.signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
      : (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${script} ${args.join(' ')} failed: ${why}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main() {
  const given = value('model');
  const dir = given ?? defaultModelDir();
  const dtype = value('dtype') ?? '';
  const d = await describeModel(dir, { dtype: dtype || undefined });
  const contexts = (value('contexts') ?? (given ? '512,2048,8192' : '512,2048'))
    .split(',')
    .map(Number)
    .filter((c) => c <= d.arch.contextLength);
  const weightsBytes = modelWeightsBytes(d);
  const kvBytesPerToken = kvBytesPerPosition(runnerShape(d.arch, d.graph));
  const bandwidthGBs = await measureBandwidthGBs();
  log(
    `model ${dir} (${d.onnxFile.layout}, ${d.graph.graphDtype}, ${d.arch.layers} layers x ${d.arch.heads} heads, ${d.graph.attention[0].form} attention)`,
  );
  log(
    `weights ${(weightsBytes / 2 ** 20).toFixed(0)} MB, KV cache ${(kvBytesPerToken / 2 ** 20).toFixed(4)} MB/token, measured read bandwidth ${bandwidthGBs.toFixed(1)} GB/s`,
  );
  const tjs = flag('no-transformers-js') ? '0' : '1';
  const decode: Record<string, unknown> = {};
  const prefill: Record<string, number> = {};
  const rss: Record<string, number> = {};
  for (const ctx of contexts) {
    const rooflineMs = ((weightsBytes + kvBytesPerToken * ctx) / (bandwidthGBs * 1e9)) * 1000;
    // transformers.js prefills in one pass: [heads, ctx, ctx] floats per layer; past 8K that alone
    // outgrows this machine. Up to 2K it runs interleaved with ours in one process; above, in a
    // process of its own right after ours (three copies of the weights plus its attention matrices
    // do not fit together).
    const tjsHere = tjs === '1' && ctx <= 8192 ? (ctx <= 2048 ? '1' : 'only') : '0';
    const args = (t: string) => [dir, String(ctx), value('steps') ?? '8', value('rounds') ?? '3', t, dtype];
    const c = child('context.ts', args(tjsHere === 'only' ? '0' : tjsHere));
    if (tjsHere === 'only') {
      try {
        Object.assign(c, child('context.ts', args('only')));
      } catch (e) {
        c.transformersJsError = (e as Error).message;
      }
    }
    const m = child('rss.ts', [dir, String(ctx), dtype]);
    decode[ctx] = {
      plainMs: c.plainMs,
      instrumentedMs: c.instrumentedMs,
      transformersJsMs: c.transformersJsMs ?? null,
      rooflineMs,
      instrumentedOverPlain: (c.instrumentedMs as number) / (c.plainMs as number),
      rooflineFraction: rooflineMs / (c.instrumentedMs as number),
      ...(c.transformersJsMs ? { speedupOverTransformersJs: (c.transformersJsMs as number) / (c.instrumentedMs as number) } : {}),
      // Above 2K transformers.js cannot prefill here in one pass: generate() resumes from our cache.
      ...(c.transformersJsResumed ? { transformersJsResumedFromOurCache: true } : {}),
      ...(c.transformersJsError
        ? { transformersJsError: c.transformersJsError }
        : tjsHere === '0' && tjs === '1'
          ? { transformersJsError: `not run past 8K: its one-pass prefill holds a ${d.arch.heads} x ${ctx} x ${ctx} attention matrix` }
          : {}),
    };
    prefill[ctx] = c.prefillTokensPerSec as number;
    rss[ctx] = m.peakRssMb as number;
    const limitMb = (weightsBytes + kvBytesPerToken * ctx) / 2 ** 20 + 512;
    log(
      `ctx ${ctx}: prefill ${prefill[ctx].toFixed(0)} tok/s; decode ms/token plain ${(c.plainMs as number).toFixed(1)}, instrumented ${(c.instrumentedMs as number).toFixed(1)} ` +
        `(x${(decode[ctx] as { instrumentedOverPlain: number }).instrumentedOverPlain.toFixed(3)}), transformers.js ${c.transformersJsMs ? (c.transformersJsMs as number).toFixed(1) : '-'}, ` +
        `roofline ${rooflineMs.toFixed(1)} (${(100 * (decode[ctx] as { rooflineFraction: number }).rooflineFraction).toFixed(0)}% of it); peak RSS ${rss[ctx].toFixed(0)} MB (weights + KV + 512 MB = ${limitMb.toFixed(0)})`,
    );
  }
  let detection: Record<string, unknown> | null = null;
  if (!flag('no-detect')) {
    const lengths = value('detect-lengths') ?? (given ? '1024,2048,4096' : '512,1024,2048');
    detection = child('detect.ts', [dir, lengths, '0,25,50,75,100', dtype]);
    log(
      `detection ${detection.cases} cases (lengths ${(detection.lengths as number[]).join('/')} x depths 0-100 x 3 needles): ${(detection.seconds as number).toFixed(1)} s vs ${(detection.wholePrefillSeconds as number).toFixed(1)} s ` +
        `prefilling and decoding every case alone (x${(detection.speedup as number).toFixed(2)}; ${(100 * (detection.reusedPrefixFraction as number)).toFixed(0)}% of prompt positions from the prefix cache; batched decoding ${detection.batchDecoding ? 'on' : 'off'}); identical scores: ${detection.identicalScores}`,
    );
  }
  const result = {
    model: dir,
    layout: d.onnxFile.layout,
    dtype: d.graph.graphDtype,
    attention: d.graph.attention[0].form,
    weightsMb: weightsBytes / 2 ** 20,
    kvMbPerToken: kvBytesPerToken / 2 ** 20,
    bandwidthGBs,
    decode,
    prefillTokensPerSec: prefill,
    peakRssMb: rss,
    detection,
  };
  if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e?.message ?? e}\n`);
  process.exitCode = 1;
});
