// retrieval-lens analyze FILE [--compare FILE2] [--level query|kv] [--export duo|qrhead|qrhead-config --out F]:
// any head file read (ours, the paper's, DeCoRe's, HeadKV's, DuoAttention's, QRHead's).
import { analyzeScores, compareScores, scoresOrigin as origin, type Comparison } from '../../method/analyze.js';
import { checkOutputPath, readScoresFile, writeFileAtomic } from '../../method/formats.js';
import { toDuoTsv, toQrheadConfig, toQrheadList } from '../../method/formats/export.js';
import { groupSize, type KvAggregation } from '../../method/gqa.js';
import { QRHEAD_CONFIG_HEADS } from '../../method/defaults.js';
import type { ScoresFile } from '../../method/types.js';
import { parseArgs, UsageError } from '../args.js';
import type { Command } from '../io.js';
import { formatJson } from '../json.js';

export const run: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(
    argv,
    {
      compare: { type: 'string' },
      top: { type: 'int', min: 1, max: 1_000_000 },
      json: { type: 'boolean' },
      level: { type: 'string', choices: ['query', 'kv'] },
      'kv-agg': { type: 'string', choices: ['max', 'mean'] },
      'kv-heads': { type: 'int', min: 1, max: 1024 },
      'disagree-k': { type: 'int', min: 1, max: 1_000_000 },
      export: { type: 'string', choices: ['duo', 'qrhead', 'qrhead-config'] },
      out: { type: 'string' },
    },
    { positionals: 1 },
  );
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError('give one scores FILE');
  if (flags.export && !flags.out) throw new UsageError(`--export ${flags.export} writes to --out: give --out too`);
  if (flags.out && !flags.export) throw new UsageError('--out is where --export writes: give --export too');
  if (flags.export && flags.compare) throw new UsageError('--export and --compare are separate runs');
  for (const f of ['level', 'disagree-k'] as const)
    if (flags[f] !== undefined && !flags.compare) throw new UsageError(`--${f} applies to --compare`);
  const agg = (flags['kv-agg'] ?? 'max') as KvAggregation;
  if (flags.out) checkOutputPath(flags.out);
  const a = readScoresFile(positionals[0]);
  if (flags.export) {
    const data =
      flags.export === 'duo'
        ? toDuoTsv(a, agg, flags['kv-heads'])
        : flags.export === 'qrhead'
          ? toQrheadList(a)
          : toQrheadConfig(a, flags.top ?? QRHEAD_CONFIG_HEADS);
    writeFileAtomic(flags.out!, data);
    io.stdout(`wrote ${flags.out} (${exportWhat(a, flags.export, agg, flags['kv-heads'])})\n`);
    return 0;
  }
  const top = flags.top ?? 10;
  const an = analyzeScores(a, top);
  const compare = flags.compare
    ? compareScores(a, readScoresFile(flags.compare), {
        level: (flags.level ?? 'query') as 'query' | 'kv',
        aggregation: agg,
        kvHeads: flags['kv-heads'],
        disagreeK: flags['disagree-k'],
      })
    : undefined;
  if (flags.json) {
    io.stdout(formatJson({ ...an, origin: origin(a), ...(compare ? { compare } : {}) }) + '\n');
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `file            ${positionals[0]}`,
    `origin          ${origin(a)}`,
    `heads           ${an.heads} (${a.model.layers} layers x ${a.model.heads} ${a.settings.level === 'kv' ? 'KV heads' : 'heads'})`,
    `counted cases   ${an.cases}`,
    `score >= 0.1    ${pct(an.fractionAtLeast01)} (${Math.round(an.fractionAtLeast01 * an.heads)} heads)`,
    `score == 0      ${pct(an.fractionZero)}`,
    `always active   ${an.alwaysActive.length}: ${an.alwaysActive.map(([l, h]) => `${l}-${h}`).join(', ')}`,
    'top heads:',
    ...an.top.map(([l, h, v]) => `  ${`${l}-${h}`.padEnd(7)} ${v.toFixed(3)}`),
  ];
  if (compare) lines.push(...describeComparison(compare, flags.compare!));
  io.stdout(lines.join('\n') + '\n');
  return 0;
};

function exportWhat(a: ScoresFile, format: string, agg: KvAggregation, kvHeads?: number): string {
  if (format === 'qrhead') return `QRHead head scores, ${a.model.layers * a.model.heads} heads best first`;
  if (format === 'qrhead-config') return 'QRHead config, attn_head_set';
  if (a.settings.level === 'kv') return `DuoAttention full_attention_heads.tsv, ${a.model.layers} layers x ${a.model.heads} KV heads`;
  const k = kvHeads ?? a.model.kvHeads!;
  return `DuoAttention full_attention_heads.tsv, ${a.model.layers} layers x ${k} KV heads, the ${agg} over each group of ${groupSize(a.model.heads, k)} query heads`;
}

export function describeComparison(c: Comparison, other: string): string[] {
  const r = (x: number | null) => (x === null ? 'undefined (constant scores)' : x.toFixed(3));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const level = c.level === 'kv' ? `KV heads, query heads combined by ${c.aggregation}` : 'query heads';
  const lines = [
    `compared with ${other} (${c.heads} ${level}): Pearson ${r(c.pearson)}, Spearman ${r(c.spearman)}, Kendall ${r(c.kendall)}`,
    ...c.topK.map((t) => `  top-${t.k} overlap ${t.shared}/${t.k} (${pct(t.fraction)})`),
  ];
  if (c.disagreements.length === 0) lines.push(`  the top-${c.disagreeK} heads are the same`);
  else {
    lines.push(`  in one top-${c.disagreeK} only (score and rank in this file / in ${other}):`);
    for (const d of c.disagreements)
      lines.push(
        `    ${`${d.layer}-${d.head}`.padEnd(7)} ${d.a.toFixed(3)} (#${d.rankA}) / ${d.b.toFixed(3)} (#${d.rankB})  top of ${d.topOf === 'a' ? 'this file' : 'the other'}`,
      );
  }
  return lines;
}
