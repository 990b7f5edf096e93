// retrieval-lens detect: the paper's retrieval-head detection over a needle-in-a-haystack grid.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, RetrievalLensError } from '../../engine/index.js';
import { runGrid, DEFAULT_DEPTHS, defaultLengths, detectionNeedles, detectionSettings, scoresModel } from '../../method/detect.js';
import { summarize } from '../../method/aggregate.js';
import { parseShard, planCases, shardCases } from '../../method/grid.js';
import { parsePartial, partialFile, resumable } from '../../method/partial.js';
import { readNeedlesFile } from '../../method/needles.js';
import { checkOutputPath, toReferenceFormat, writeFileAtomic } from '../../method/formats.js';
import type { CaseResult } from '../../method/types.js';
import { executionProviders } from '../device.js';
import { parseArgs, parseIntList, UsageError } from '../args.js';
import { defaultModelDir, packageRoot } from '../defaults.js';
import { progressLine } from '../progress.js';
import type { Command } from '../io.js';

const HELP = `usage: retrieval-lens detect [--model DIR|HUB_ID] [--haystack FILE...] [--needles-file F.jsonl]
    [--lengths 256,512] [--depths 0,25,50,75,100] [--template T] [--max-new-tokens 50]
    [--threshold 0.1] [--out scores.json] [--format retrieval-head] [--json] [--dtype D] [--needle-bos]
    [--resume] [--shard i/n] [--device cpu|cuda|dml|coreml]
Default haystack: the bundled public-domain Shakespeare text. Default needles: the first three of
the bundled made-up facts (data/needles.jsonl shows the --needles-file format: one JSON object a
line, {"needle", "question", "real_needle"} and an optional "id"). Default lengths: five from 256
tokens up to the model's context or the haystack's length. --format retrieval-head also writes
<out>.retrieval-head.json in the reference code's {"layer-head": [scores per counted case]} format.
--needle-bos puts a BOS token before the needle, as the reference code's tokenization does.
With --out, the cases done so far are kept in <out>.partial.json after each case: an interrupted run
(Ctrl-C, a crash) continues with --resume. --shard i/n runs one deterministic slice of the grid
(whole length x depth cells dealt round-robin) and writes it as a part to --out; "retrieval-lens
merge PART..." combines the n parts into exactly the scores file one unsharded run writes.
--device picks onnxruntime's execution provider (default cpu).
`;

export function readHaystacks(files: string[] | undefined): string[] {
  const paths = files?.length ? files : [join(packageRoot(), 'data', 'haystack', 'shakespeare.txt')];
  return paths.map((p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new RetrievalLensError('BAD_INPUT', `cannot read haystack ${p}: ${(e as Error).message}`);
    }
  });
}

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    model: { type: 'string' },
    dtype: { type: 'string' },
    haystack: { type: 'list', variadic: true },
    'needles-file': { type: 'string' },
    lengths: { type: 'string' },
    depths: { type: 'string' },
    template: { type: 'string' },
    'max-new-tokens': { type: 'number' },
    threshold: { type: 'number' },
    out: { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean' },
    'needle-bos': { type: 'boolean' },
    resume: { type: 'boolean' },
    shard: { type: 'string' },
    device: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (flags.help) {
    io.stdout(HELP);
    return 0;
  }
  if (flags.format && flags.format !== 'retrieval-head') throw new UsageError(`--format takes "retrieval-head", got "${flags.format}"`);
  if (flags.format && !flags.out) throw new UsageError('--format retrieval-head writes a second file beside --out: give --out too');
  if (flags.resume && !flags.out) throw new UsageError('--resume continues the run whose --out it is given: give --out too');
  if (flags.shard && !flags.out) throw new UsageError('--shard writes its part to --out: give --out too');
  if (flags.shard && flags.format) throw new UsageError('--format applies to a merged result, not to one shard');
  const out = flags.out as string | undefined;
  const partialPath = out ? `${out}.partial.json` : undefined;
  if (out) checkOutputPath(out);
  const shard = flags.shard ? parseShard(flags.shard as string) : undefined;
  const providers = executionProviders(flags.device as string | undefined);
  const haystack = readHaystacks(flags.haystack as string[] | undefined);
  const needlesArg = flags['needles-file'] ? readNeedlesFile(flags['needles-file'] as string) : undefined;
  const model = await loadModel((flags.model as string) ?? defaultModelDir(), { dtype: flags.dtype as string | undefined, executionProviders: providers });
  try {
    const hayTokens = model.tokenizer.encode(haystack.join('\n\n').slice(0, 200_000), { addSpecialTokens: false }).length;
    const lengths = flags.lengths ? parseIntList(flags.lengths as string, '--lengths') : defaultLengths(model.info.contextLength, hayTokens);
    const depths = flags.depths ? parseIntList(flags.depths as string, '--depths') : DEFAULT_DEPTHS;
    const opts = { haystack, needles: needlesArg, lengths, depths, maxNewTokens: flags['max-new-tokens'] as number | undefined, threshold: flags.threshold as number | undefined, template: flags.template as string | undefined, needleBos: Boolean(flags['needle-bos']) };
    const needles = detectionNeedles(opts);
    const settings = detectionSettings(model, opts, needles);
    const modelMeta = scoresModel(model);
    const all = planCases(settings.lengths, settings.depths, needles);
    const mine = shard ? shardCases(all, shard) : all;
    let done: CaseResult[] = [];
    if (flags.resume && partialPath && existsSync(partialPath)) {
      done = resumable(parsePartial(readFileSync(partialPath, 'utf8'), partialPath), modelMeta, settings, shard, partialPath);
      io.stderr(`resuming from ${partialPath}: ${done.length} of ${mine.length} cases already done\n`);
    } else if (flags.resume) {
      io.stderr(`nothing to resume (${partialPath} does not exist); starting the grid\n`);
    }
    io.stderr(`detecting retrieval heads of ${model.info.id}: ${lengths.length} lengths x ${depths.length} depths x ${needles.length} needles = ${all.length} cases${shard ? `; shard ${shard.index + 1}/${shard.count}: ${mine.length} cases` : ''}\n`);
    const results = [...done];
    const cases = await runGrid(model, opts, {
      signal: io.signal,
      onCase: (r) => {
        results.push(r);
        // After every case: what an interrupted run resumes from.
        if (partialPath) writeFileAtomic(partialPath, JSON.stringify(partialFile(modelMeta, settings, mine.length, results, shard)));
      },
      onProgress: (p) => io.stderr(progressLine(p.done, p.total, p.etaMs, p.last ? `${p.last.length} tokens, depth ${p.last.depth}%: ${p.last.success ? 'retrieved' : 'failed'}` : '')),
    }, needles, { cases: mine, done });
    if (shard) {
      writeFileAtomic(out!, JSON.stringify(partialFile(modelMeta, settings, mine.length, cases, shard)));
      rmSync(partialPath!, { force: true });
      io.stdout(`wrote shard ${shard.index + 1}/${shard.count} (${cases.length} cases) to ${out}; combine the parts with: retrieval-lens merge PART... --out scores.json\n`);
      return 0;
    }
    const scores = summarize(modelMeta, settings, cases, settings.threshold);
    if (out) {
      writeFileAtomic(out, JSON.stringify(scores, null, 1));
      if (flags.format === 'retrieval-head') writeFileAtomic(`${out.replace(/\.json$/, '')}.retrieval-head.json`, JSON.stringify(toReferenceFormat(scores)));
      rmSync(partialPath!, { force: true });
    }
    if (flags.json) {
      io.stdout(JSON.stringify(scores) + '\n');
      return 0;
    }
    io.stdout(describeScores(scores, model.info.layers * model.info.heads) + (out ? `\nwrote ${out}` : '') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};

/** The summary printed after a detection (and after a merge). */
export function describeScores(scores: ReturnType<typeof summarize>, totalHeads: number): string {
  const s = scores.summary;
  const threshold = (scores.settings as { threshold?: number }).threshold ?? 0.1;
  return [
    `counted cases ${s.countedCases} of ${scores.cases.length} (${s.failedCases} failed to retrieve the needle)`,
    `retrieval heads (score >= ${threshold}): ${scores.retrievalHeads.length} of ${totalHeads} (${(100 * s.fractionRetrieval).toFixed(1)}%)`,
    ...scores.retrievalHeads.slice(0, 20).map(([l, h, v]) => `  layer ${l} head ${h}: ${v.toFixed(3)}`),
    `active in every counted case: ${s.alwaysActive.map(([l, h]) => `${l}-${h}`).join(', ') || 'none'}`,
    'NIAH accuracy (rows: length, columns: depth %):',
    `  ${'len'.padStart(6)} ${s.accuracy.depths.map((d) => String(d).padStart(6)).join('')}`,
    ...s.accuracy.lengths.map((len, i) => `  ${String(len).padStart(6)} ${s.accuracy.values[i].map((v) => v.toFixed(2).padStart(6)).join('')}`),
  ].join('\n');
}
