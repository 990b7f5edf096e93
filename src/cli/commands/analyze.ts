// retrieval-lens analyze FILE [--compare FILE2] [--json]: ours or the paper's head_score JSON.
import { analyzeScores, compareScores } from '../../method/analyze.js';
import { readScoresFile } from '../../method/formats.js';
import { parseArgs, UsageError } from '../args.js';
import type { Command } from '../io.js';
import { formatJson } from '../json.js';

export const run: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(
    argv,
    { compare: { type: 'string' }, top: { type: 'int', min: 1, max: 1_000_000 }, json: { type: 'boolean' } },
    { positionals: 1 },
  );
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError('give one scores FILE');
  const top = flags.top ?? 10;
  const a = readScoresFile(positionals[0]);
  const an = analyzeScores(a, top);
  const compare = flags.compare ? compareScores(a, readScoresFile(flags.compare)) : undefined;
  if (flags.json) {
    const out = {
      ...an,
      ...(compare
        ? { compare: { pearson: compare.pearson, spearman: compare.spearman, topKOverlap: compare.topKOverlap, topK: compare.topK } }
        : {}),
    };
    io.stdout(formatJson(out) + '\n');
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `file            ${positionals[0]}`,
    `heads           ${an.heads} (${a.model.layers} layers x ${a.model.heads} heads)`,
    `counted cases   ${an.cases}`,
    `score >= 0.1    ${pct(an.fractionAtLeast01)} (${Math.round(an.fractionAtLeast01 * an.heads)} heads)`,
    `score == 0      ${pct(an.fractionZero)}`,
    `always active   ${an.alwaysActive.length}: ${an.alwaysActive.map(([l, h]) => `${l}-${h}`).join(', ')}`,
    'top heads:',
    ...an.top.map(([l, h, v]) => `  ${`${l}-${h}`.padEnd(7)} ${v.toFixed(3)}`),
  ];
  if (compare) {
    const r = (x: number | null) => (x === null ? 'undefined (constant scores)' : x.toFixed(3));
    lines.push(`compared with ${flags.compare}: Pearson ${r(compare.pearson)}, Spearman ${r(compare.spearman)}`);
    for (const t of compare.topK) lines.push(`  top-${t.k} overlap ${t.shared}/${t.k} (${pct(t.fraction)})`);
  }
  io.stdout(lines.join('\n') + '\n');
  return 0;
};
