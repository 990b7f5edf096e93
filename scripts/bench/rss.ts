// Child of bench.ts: peak RSS of what a user runs at one context length — the instrumented model
// loaded, a prompt of N tokens prefilled in chunks, a few tokens decoded with attention read.
// Prints one JSON line. argv: modelDir N dtype
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/engine/index.js';

/**
 * This process's peak resident set, MB. Linux: VmHWM, which starts afresh at exec; getrusage's
 * maxRSS survives fork and exec, so a child of a big parent would report the parent's size.
 */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

async function main() {
  const [dir, nArg, dtype] = process.argv.slice(2);
  const model = await loadModel(dir, { dtype: dtype || undefined });
  const n = Math.min(Number(nArg), model.info.contextLength - 8);
  const afterLoadMb = process.memoryUsage().rss / 2 ** 20;
  const vocab = model.info.vocabSize;
  const ids = Array.from({ length: n }, (_, i) => 3 + ((i * 131) % Math.min(vocab - 3, 500)));
  await model.generate(ids, { maxNewTokens: 4, stopTokens: [], attention: true });
  process.stdout.write(JSON.stringify({ n, peakRssMb: peakRssMb(), afterLoadMb }) + '\n');
  await model.dispose();
}
main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
