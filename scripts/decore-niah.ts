// node --import tsx scripts/decore-niah.ts --scores scores.json [--model DIR] [--alphas entropy,0.5,1]
// DeCoRe on the ablation's fresh NIAH cases: ROUGE-1 and exact success of greedy decoding (a = 0)
// and of DeCoRe with each a, the scores file's retrieval heads masked the DeCoRe way (zero, all
// positions). Prints one line per case that any setting gets wrong, then the totals as JSON.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/engine/index.js';
import { freshCases, judge } from '../src/method/ablate.js';
import { decoreGenerate, type DecoreAlpha } from '../src/method/decore.js';
import { readScoresFile } from '../src/method/formats.js';
import { pickHeads } from '../src/method/heads.js';
import { defaultModelDir, packageRoot } from '../src/shared/paths.js';

const argv = process.argv.slice(2);
const value = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

async function main() {
  const scoresPath = value('scores');
  if (!scoresPath) throw new Error('give --scores FILE');
  const model = await loadModel(value('model') ?? defaultModelDir());
  try {
    const scores = readScoresFile(scoresPath);
    const haystack = [readFileSync(join(packageRoot(), 'data', 'haystack', 'shakespeare.txt'), 'utf8')];
    const { cases, stops } = freshCases(model, scores, { haystack });
    const heads = pickHeads(scores, model.info);
    const alphas: DecoreAlpha[] = [0, ...(value('alphas') ?? 'entropy,0.5,1').split(',').map((a) => (a === 'entropy' ? a : Number(a)))];
    const totals = alphas.map((a) => ({ alpha: a, success: 0, exact: 0 }));
    for (const c of cases) {
      const texts: string[] = [];
      const marks: string[] = [];
      for (let i = 0; i < alphas.length; i++) {
        const r = await decoreGenerate(model, c.promptIds, { heads, alpha: alphas[i], maxNewTokens: 50, stopTokens: stops });
        const j = judge(c.needle, r.text);
        totals[i].success += Number(j.success);
        totals[i].exact += Number(j.exact);
        texts.push(r.text.trim());
        marks.push(j.exact ? 'exact' : j.success ? 'rouge' : 'miss');
      }
      if (marks.some((m) => m !== 'exact'))
        console.log(
          `${c.length} tokens, depth ${c.depth}%, ${c.needle.id}: ` +
            alphas.map((a, i) => `a=${a} ${marks[i]} ${JSON.stringify(texts[i].slice(0, 50))}`).join(' | '),
        );
    }
    console.log(JSON.stringify({ cases: cases.length, heads: heads.map((h) => `${h.layer}-${h.head}`), totals }));
  } finally {
    await model.dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
