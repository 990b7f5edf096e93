// retrieval-lens generate --model DIR (--prompt TEXT | --prompt-file FILE) [--max-new-tokens N]
//   [--mask L:H,...] [--mask-mode uniform|zero] [--mask-scope decode|all] [--attention] [--json]
import { argmax, RetrievalLensError, type HeadRef, type MaskMode, type MaskScope } from '../../engine/index.js';
import { parseArgs, UsageError } from '../args.js';
import { checkModelFlags, FLAGS, MODEL_FLAGS, openModel, readPromptFile } from '../common.js';
import { encodeBounded } from '../../method/encode.js';
import type { Command } from '../io.js';
import { DEFAULT_MAX_NEW_TOKENS } from '../../method/defaults.js';
import { checkDecoreFlags, DECORE_FLAGS, runDecore } from '../decore.js';

const HELP = `usage: retrieval-lens generate [--model DIR|hf:OWNER/NAME] (--prompt TEXT | --prompt-file FILE)
    [--max-new-tokens N] [--mask L:H,L:H,...] [--mask-mode uniform|zero] [--mask-scope decode|all]
    [--temperature T --top-k K --top-p P --seed S] [--attention] [--json] [--dtype D]
    [--decore (--scores S [--decore-k K] | --mask L:H,...) [--decore-alpha A]]
Masks: "uniform" (default, the paper's: the head attends uniformly), "zero" (head output 0);
scope "decode" (default, the paper's: prefill unmasked) or "all". Sampling (default greedy):
--temperature 0..100 (0: greedy), --top-k K >= 0 (0: off), --top-p in (0, 1], --seed 0..4294967295;
top-k, top-p and seed need a temperature above 0.
--attention adds, per generated token, the argmax position of every head ([layers][heads]).
--decore: DeCoRe decoding, next = argmax (1 + a) log p_base - a log p_masked, the masked model with
the scores file's retrieval heads (or its top --decore-k heads, or the --mask heads) masked, by
default the DeCoRe way (mask mode zero, scope all); a = the entropy of p_base (nats) at each step,
or --decore-alpha A (0: greedy). --json adds per step a, and the base and masked models' own
tokens where they differ from DeCoRe's choice.
`;

/** "L:H,L:H" (or L-H): each head once. Whether a head exists is the model's to say. */
export function parseMask(text: string): HeadRef[] {
  const seen = new Set<string>();
  const heads = text
    .split(',')
    .filter((s) => s.trim())
    .map((s) => {
      const m = /^\s*(\d{1,6})[:-](\d{1,6})\s*$/.exec(s);
      if (!m) throw new UsageError(`--mask takes LAYER:HEAD pairs separated by commas, got "${s}"`);
      const head = { layer: Number(m[1]), head: Number(m[2]) };
      const key = `${head.layer}:${head.head}`;
      if (seen.has(key)) throw new UsageError(`--mask names head ${key} twice`);
      seen.add(key);
      return head;
    });
  return heads;
}

export const run: Command = async (argv, io) => {
  const { flags, help } = parseArgs(argv, {
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
    json: { type: 'boolean' },
    ...DECORE_FLAGS,
  });
  if (help) {
    io.stdout(HELP);
    return 0;
  }
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
      if (flags.json) io.stdout(JSON.stringify({ ...json, stoppedBy: r.stoppedBy, decore: d.decore, steps: d.steps }, null, 1) + '\n');
      else io.stdout(r.text + '\n');
      return 0;
    }
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
          entry.argmax = Array.from({ length: info.layers }, (_, l) =>
            Array.from({ length: info.heads }, (_, h) => argmax(rows, (l * info.heads + h) * kvLen, (l * info.heads + h + 1) * kvLen)),
          );
        }
        perStep.push(entry);
      },
    });
    if (flags.json) {
      io.stdout(
        JSON.stringify(
          {
            model: info.id,
            promptTokens: result.promptTokens,
            promptTokenIds: ids,
            text: result.text,
            tokenIds: result.tokenIds,
            stoppedBy: result.stoppedBy,
            mask: { heads, mode, scope },
            steps: perStep,
          },
          null,
          1,
        ) + '\n',
      );
    } else {
      io.stdout(result.text + '\n');
    }
    return 0;
  } finally {
    await model.dispose();
  }
};
