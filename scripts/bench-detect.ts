// Detection wall time on the organism's working grid (the README's main command), for bench.ts.
// Kept apart so the engine figures still print when the method layer is being changed.
export async function benchDetection(modelDir: string, log: (s: string) => void) {
  const { loadModel } = await import('../src/engine/index.js');
  const { runDetection } = await import('../src/method/detect.js');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const model = await loadModel(modelDir);
  const haystack = [readFileSync(join(__dirname, '..', 'data', 'haystack', 'shakespeare.txt'), 'utf8')];
  const lengths = [512, 1024, 2048];
  const depths = [0, 25, 50, 75, 100];
  const t0 = performance.now();
  const scores = await runDetection(model, { haystack, lengths, depths }, {});
  const seconds = (performance.now() - t0) / 1000;
  await model.dispose();
  const cases = scores.cases.length;
  log(`detection: ${cases} cases (lengths ${lengths.join('/')} x depths ${depths.join('/')} x needles) in ${seconds.toFixed(1)} s = ${((cases / seconds) * 60).toFixed(1)} cases/min`);
  return { cases, seconds, casesPerMinute: (cases / seconds) * 60, lengths, depths };
}
