// retrieval-lens detect: the paper's retrieval-head detection over a needle-in-a-haystack grid
// (--method picks one of the detectors beside it, detectMethods.ts).
import { existsSync, rmSync } from 'node:fs';
import {
  runGrid,
  DEFAULT_DEPTHS,
  defaultLengths,
  detectionNeedles,
  detectionSettings,
  scoresModel,
  validateGrid,
} from '../../method/detect.js';
import { summarize } from '../../method/aggregate.js';
import { parseShard, planCases, shardCases } from '../../method/grid.js';
import { parsePartial, partialFile, resumable } from '../../method/partial.js';
import { readNeedlesFile } from '../../method/needles.js';
import { checkOutputPath, MAX_SCORES_BYTES, toReferenceFormat, writeFilesAtomic } from '../../method/formats.js';
import { readTextFile } from '../../shared/textFile.js';
import type { CaseResult, ScoresFile } from '../../method/types.js';
import { executionProviders } from '../device.js';
import { parseArgs, parseIntList, parseNumberList, UsageError } from '../args.js';
import { checkModelFlags, checkTemplateFlag, DEPTH_RANGE, FLAGS, LENGTH_RANGE, MODEL_FLAGS, openModel, readHaystacks } from '../common.js';
import { ProgressReporter } from '../progress.js';
import { formatJson } from '../json.js';
import type { Command } from '../io.js';
import { DEFAULT_THRESHOLD } from '../../method/defaults.js';
import type { DetectionMethod } from '../../method/types.js';
import { checkMethodFlags, METHOD_FLAGS, runMethod } from './detectMethods.js';

/** The second file of --format retrieval-head, beside --out. */
export function referencePath(out: string): string {
  return `${out.replace(/\.json$/, '')}.retrieval-head.json`;
}

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    ...MODEL_FLAGS,
    haystack: { type: 'list', variadic: true },
    'needles-file': { type: 'string' },
    lengths: { type: 'string' },
    depths: { type: 'string' },
    template: { type: 'string' },
    'max-new-tokens': FLAGS.maxNewTokens,
    threshold: FLAGS.threshold,
    out: { type: 'string' },
    format: { type: 'string', choices: ['retrieval-head'] },
    json: { type: 'boolean' },
    'needle-bos': { type: 'boolean' },
    resume: { type: 'boolean' },
    shard: { type: 'string' },
    device: { type: 'string', choices: ['cpu', 'cuda', 'dml', 'coreml'] },
    ...METHOD_FLAGS,
  });
  // How it was called first (exit 2), then what it was given (exit 1).
  checkModelFlags(flags);
  if (flags.format && !flags.out) throw new UsageError('--format retrieval-head writes a second file beside --out: give --out too');
  const method = (flags.method ?? 'paper') as DetectionMethod;
  checkMethodFlags(method, flags);
  if (method !== 'paper') return runMethod(method, flags, io);
  if (flags.resume && !flags.out) throw new UsageError('--resume continues the run whose --out it is given: give --out too');
  if (flags.shard && !flags.out) throw new UsageError('--shard writes its part to --out: give --out too');
  if (flags.shard && flags.format) throw new UsageError('--format applies to a merged result, not to one shard');
  let shard;
  try {
    shard = flags.shard ? parseShard(flags.shard) : undefined;
  } catch (e) {
    throw new UsageError(`--shard: ${(e as Error).message}`);
  }
  const lengthsFlag = flags.lengths ? parseIntList(flags.lengths, '--lengths', LENGTH_RANGE) : undefined;
  const depths = flags.depths ? parseNumberList(flags.depths, '--depths', DEPTH_RANGE) : DEFAULT_DEPTHS;
  const template = checkTemplateFlag(flags.template);
  const out = flags.out;
  const partialPath = out ? `${out}.partial.json` : undefined;
  const outputs = out ? [out, partialPath!, ...(flags.format === 'retrieval-head' ? [referencePath(out)] : [])] : [];
  for (const path of outputs) checkOutputPath(path);
  const providers = executionProviders(flags.device);
  const haystack = readHaystacks(flags.haystack);
  const needlesArg = flags['needles-file'] ? readNeedlesFile(flags['needles-file']) : undefined;
  const model = await openModel(flags, io, { executionProviders: providers });
  try {
    const hayTokens = model.tokenizer.encode(haystack.join('\n\n').slice(0, 200_000), { addSpecialTokens: false }).length;
    const lengths = lengthsFlag ?? defaultLengths(model.info.contextLength, hayTokens);
    const opts = {
      haystack,
      needles: needlesArg,
      lengths,
      depths,
      maxNewTokens: flags['max-new-tokens'],
      threshold: flags.threshold,
      template,
      needleBos: Boolean(flags['needle-bos']),
    };
    // Every check that needs no case run comes before the first line about the run.
    validateGrid(model, opts);
    const needles = detectionNeedles(opts);
    const settings = detectionSettings(model, opts, needles);
    const modelMeta = scoresModel(model);
    const all = planCases(settings.lengths, settings.depths, needles);
    const mine = shard ? shardCases(all, shard) : all;
    let done: CaseResult[] = [];
    if (flags.resume && existsSync(partialPath!)) {
      done = resumable(
        parsePartial(
          readTextFile(partialPath!, { maxBytes: MAX_SCORES_BYTES, what: 'partial results file', code: 'BAD_SCORES_FILE' }),
          partialPath!,
        ),
        modelMeta,
        settings,
        shard,
        partialPath!,
      );
      io.stderr(`resuming from ${partialPath}: ${done.length} of ${mine.length} cases already done\n`);
    } else if (flags.resume) {
      io.stderr(`nothing to resume (${partialPath} does not exist); starting the grid\n`);
    }
    io.stderr(
      `detecting retrieval heads of ${model.info.id}: ${lengths.length} lengths x ${depths.length} depths x ${needles.length} needles = ${all.length} cases${shard ? `; shard ${shard.index + 1}/${shard.count}: ${mine.length} cases` : ''}\n`,
    );
    const where = (c: { depth: number; needleDepth?: number }) =>
      c.needleDepth !== undefined && Math.abs(c.needleDepth - c.depth) >= 1 ? ` (needle at ${c.needleDepth}%)` : '';
    const results = [...done];
    const progress = new ProgressReporter(io);
    let failed = done.filter((r) => !r.success).length;
    const cases = await runGrid(
      model,
      opts,
      {
        signal: io.signal,
        onStart: (c) =>
          progress.start(
            c.depths.length === 1
              ? `${c.length} tokens, depth ${c.depths[0]}%, ${c.cases} needle${c.cases > 1 ? 's' : ''}`
              : `${c.length} tokens, depths ${c.depths.join('%, ')}%, ${c.cases} cases`,
            {
              done: results.length,
              total: mine.length,
            },
          ),
        onCase: (r) => {
          results.push(r);
          // After every case: what an interrupted run resumes from.
          if (partialPath)
            writeFilesAtomic([{ path: partialPath, data: JSON.stringify(partialFile(modelMeta, settings, mine.length, results, shard)) }]);
        },
        onProgress: (p) => {
          if (p.last && !p.last.success) failed++;
          progress.update(
            p,
            p.last ? `${p.last.length} tokens, depth ${p.last.depth}%${where(p.last)}: ${p.last.success ? 'retrieved' : 'failed'}` : '',
            `${failed} failed`,
          );
        },
      },
      needles,
      { cases: mine, done },
    ).finally(() => progress.end());
    if (shard) {
      writeFilesAtomic([{ path: out!, data: JSON.stringify(partialFile(modelMeta, settings, mine.length, cases, shard)) }]);
      rmSync(partialPath!, { force: true });
      io.stdout(
        `wrote shard ${shard.index + 1}/${shard.count} (${cases.length} cases) to ${out}; combine the parts with: retrieval-lens merge PART... --out scores.json\n`,
      );
      return 0;
    }
    const scores = summarize(modelMeta, settings, cases, settings.threshold);
    // The result files together, both or neither; then the partial file goes.
    if (out) {
      writeFilesAtomic([
        { path: out, data: formatJson(scores) },
        ...(flags.format === 'retrieval-head' ? [{ path: referencePath(out), data: JSON.stringify(toReferenceFormat(scores)) }] : []),
      ]);
      rmSync(partialPath!, { force: true });
    }
    if (flags.json) {
      io.stdout(formatJson(scores) + '\n');
      return 0;
    }
    io.stdout(describeScores(scores, model.info.layers * model.info.heads) + (out ? `\nwrote ${out}` : '') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};

/** The summary printed after a detection (and after a merge). */
export function describeScores(scores: ScoresFile, totalHeads: number): string {
  const s = scores.summary;
  const threshold = scores.settings.threshold ?? DEFAULT_THRESHOLD;
  return [
    `counted cases ${s.countedCases} of ${scores.cases.length} (${s.failedCases} failed to retrieve the needle)`,
    `retrieval heads (score >= ${threshold}): ${scores.retrievalHeads.length} of ${totalHeads} (${(100 * s.fractionRetrieval).toFixed(1)}%)`,
    ...scores.retrievalHeads.slice(0, 20).map(([l, h, v]) => `  layer ${l} head ${h}: ${v.toFixed(3)}`),
    `active in every counted case: ${s.alwaysActive.map(([l, h]) => `${l}-${h}`).join(', ') || 'none'}`,
    'NIAH accuracy (rows: length, columns: depth %):',
    `  ${'len'.padStart(6)} ${s.accuracy.depths.map((d) => String(d).padStart(6)).join('')}`,
    ...s.accuracy.lengths.map(
      (len, i) => `  ${String(len).padStart(6)} ${s.accuracy.values[i].map((v) => v.toFixed(2).padStart(6)).join('')}`,
    ),
  ].join('\n');
}
