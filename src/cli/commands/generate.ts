// retrieval-lens generate --model DIR (--prompt TEXT | --prompt-file FILE) [--max-new-tokens N]
//   [--mask L:H,...] [--mask-mode uniform|zero] [--mask-scope decode|all] [--attention] [--json]
import { argmax, RetrievalLensError, type HeadRef, type MaskMode, type MaskScope } from '../../engine/index.js';
import { parseArgs, UsageError } from '../args.js';
import { checkModelFlags, FLAGS, MODEL_FLAGS, openModel, readPromptFile } from '../common.js';
import { encodeBounded } from '../../method/encode.js';
import type { Command } from '../io.js';
import { formatJson } from '../json.js';
import { readScoresFile } from '../../method/formats.js';
import { rankHeads } from '../../method/ablate.js';
import { formatAttentionTable, stepPeaks, type TableStep } from '../attentionTable.js';
import { DEFAULT_MAX_NEW_TOKENS } from '../../method/defaults.js';
import { checkDecoreFlags, DECORE_FLAGS, runDecore } from '../decore.js';

/** "L:H,L:H" (or L-H): each head once. Whether a head exists is the model's to say. */
export function parseMask(text: string, flag = '--mask'): HeadRef[] {
  const seen = new Set<string>();
  const heads = text
    .split(',')
    .filter((s) => s.trim())
    .map((s) => {
      const m = /^\s*(\d{1,6})[:-](\d{1,6})\s*$/.exec(s);
      if (!m) throw new UsageError(`${flag} takes LAYER:HEAD pairs separated by commas, got "${s}"`);
      const head = { layer: Number(m[1]), head: Number(m[2]) };
      const key = `${head.layer}:${head.head}`;
      if (seen.has(key)) throw new UsageError(`${flag} names head ${key} twice`);
      seen.add(key);
      return head;
    });
  return heads;
}

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    ...MODEL_FLAGS,
    prompt: { type: 'string', allowEmpty: true },
    'prompt-file': { type: 'string' },
    'max-new-tokens': FLAGS.maxNewTokens,
    // An empty --mask is no mask (a script's empty list).
    mask: { type: 'string', allowEmpty: true },
    'mask-mode': FLAGS.maskMode,
    'mask-scope': FLAGS.maskScope,
    temperature: { type: 'number', min: 0, max: 100 },
    'top-k': { type: 'int', min: 0 },
    'top-p': { type: 'number', min: 0, minExclusive: true, max: 1 },
    seed: { type: 'int', min: 0, max: 0xffffffff },
    attention: { type: 'boolean' },
    heads: { type: 'string' },
    'top-heads': { type: 'int', min: 1, max: 100_000 },
    json: { type: 'boolean' },
    ...DECORE_FLAGS,
  });
  checkModelFlags(flags);
  if (flags.prompt !== undefined && flags['prompt-file'] !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  if (flags.prompt === undefined && flags['prompt-file'] === undefined) throw new UsageError('give --prompt TEXT or --prompt-file FILE');
  const sampling = (['top-k', 'top-p', 'seed'] as const).filter((f) => flags[f] !== undefined);
  if (sampling.length && !(flags.temperature ?? 0))
    throw new UsageError(`--${sampling[0]} only applies when sampling: give --temperature above 0 too`);
  const mode = flags['mask-mode'] ?? 'uniform';
  const scope = flags['mask-scope'] ?? 'decode';
  const heads = flags.mask !== undefined ? parseMask(flags.mask) : [];
  checkDecoreFlags(flags);
  if (flags.mask === undefined && !flags.decore && (flags['mask-mode'] || flags['mask-scope']))
    throw new UsageError('--mask-mode and --mask-scope apply to --mask heads: give --mask too');
  // --scores names the heads of the --attention table, or with --decore the heads to contrast.
  const tableFlags = flags.decore ? (['heads', 'top-heads'] as const) : (['heads', 'scores', 'top-heads'] as const);
  const tableFlag = tableFlags.find((f) => flags[f] !== undefined);
  if (tableFlag && (!flags.attention || flags.json))
    throw new UsageError(
      `--${tableFlag} chooses the heads of the --attention table: give --attention, without --json${tableFlag === 'scores' ? ' (or --decore)' : ''}`,
    );
  if (flags.heads !== undefined && (flags.scores !== undefined || flags['top-heads'] !== undefined))
    throw new UsageError(`--heads names the heads itself: give it without --${flags.scores !== undefined ? 'scores' : 'top-heads'}`);
  let shown = flags.heads !== undefined ? parseMask(flags.heads, '--heads') : undefined;
  const scores = flags.scores !== undefined && !flags.decore ? readScoresFile(flags.scores) : undefined;
  const prompt = flags['prompt-file'] !== undefined ? readPromptFile(flags['prompt-file']) : (flags.prompt ?? '');
  if (prompt.trim() === '') throw new RetrievalLensError('EMPTY_INPUT', 'the prompt is empty');

  const model = await openModel(flags, io);
  try {
    const { info } = model;
    const enc = encodeBounded(model.tokenizer, prompt, info.contextLength);
    if (!enc.ids)
      throw new RetrievalLensError(
        'CONTEXT_TOO_LONG',
        `the prompt has more than ${enc.tokens} tokens but the model's context length is ${info.contextLength}`,
      );
    const ids = enc.ids;
    if (flags.decore) {
      const maxNew = flags['max-new-tokens'] ?? DEFAULT_MAX_NEW_TOKENS;
      const d = await runDecore(model, ids, flags, { heads, mode: flags['mask-mode'], scope: flags['mask-scope'] }, maxNew, io);
      const { result: r } = d;
      const json = { model: info.id, promptTokens: ids.length, promptTokenIds: ids, text: r.text, tokenIds: r.tokenIds };
      if (flags.json) io.stdout(formatJson({ ...json, stoppedBy: r.stoppedBy, decore: d.decore, steps: d.steps }) + '\n');
      else io.stdout(r.text + '\n');
      return 0;
    }
    if (scores) {
      if (scores.model.layers !== info.layers || scores.model.heads !== info.heads)
        throw new RetrievalLensError(
          'BAD_SCORES_FILE',
          `${flags.scores} has ${scores.model.layers} x ${scores.model.heads} heads but the model has ${info.layers} x ${info.heads}`,
        );
      shown = rankHeads(scores.scores).slice(0, flags['top-heads'] ?? 4);
    }
    const missing = shown?.find((h) => h.layer >= info.layers || h.head >= info.heads);
    if (missing)
      throw new RetrievalLensError(
        'BAD_INPUT',
        `--heads ${missing.layer}:${missing.head}: the model has ${info.layers} layers of ${info.heads} heads (counted from 0)`,
      );
    const table: TableStep[] = [];
    const choose = { top: flags['top-heads'] ?? 4 };
    const perStep: { token: number; text: string; position: number; argmax?: number[][] }[] = [];
    const result = await model.generate(ids, {
      maxNewTokens: flags['max-new-tokens'] ?? DEFAULT_MAX_NEW_TOKENS,
      mask: heads.length ? { heads, mode: mode as MaskMode, scope: scope as MaskScope } : undefined,
      sampling: { temperature: flags.temperature, topK: flags['top-k'], topP: flags['top-p'], seed: flags.seed },
      attention: Boolean(flags.attention),
      signal: io.signal,
      onStep: (step) => {
        const entry: (typeof perStep)[number] = { token: step.token, text: model.tokenizer.decode([step.token]), position: step.position };
        if (step.attention) {
          const { rows, kvLen } = step.attention; // [layers, heads, kvLen]
          if (flags.json)
            entry.argmax = Array.from({ length: info.layers }, (_, l) =>
              Array.from({ length: info.heads }, (_, h) => argmax(rows, (l * info.heads + h) * kvLen, (l * info.heads + h + 1) * kvLen)),
            );
          else
            table.push({
              position: step.position + 1,
              token: step.token,
              peaks: stepPeaks(rows, { layers: info.layers, heads: info.heads, kvLen }, shown ? { heads: shown } : choose),
            });
        }
        perStep.push(entry);
      },
    });
    if (flags.json) {
      io.stdout(
        formatJson({
          model: info.id,
          promptTokens: result.promptTokens,
          promptTokenIds: ids,
          text: result.text,
          tokenIds: result.tokenIds,
          stoppedBy: result.stoppedBy,
          mask: { heads, mode, scope },
          steps: perStep,
        }) + '\n',
      );
    } else {
      io.stdout(result.text + '\n');
      if (table.length) {
        const tokenAt = (p: number) => (p < ids.length ? ids[p] : result.tokenIds[p - ids.length]);
        // A token's text as it reads after the one before it: a lone SentencePiece token loses its leading space.
        const text = (p: number) =>
          p === 0
            ? model.tokenizer.decode([tokenAt(0)])
            : model.tokenizer.decode([tokenAt(p - 1), tokenAt(p)]).slice(model.tokenizer.decode([tokenAt(p - 1)]).length);
        const heads = scores
          ? `the top ${shown!.length} heads of ${flags.scores}`
          : shown
            ? 'the heads given with --heads'
            : 'the heads with the strongest peak at that token (position 0, where many heads rest, left out)';
        io.stdout('\n' + formatAttentionTable(table, tokenAt, text, { promptTokens: ids.length, heads }));
      }
    }
    return 0;
  } finally {
    await model.dispose();
  }
};
