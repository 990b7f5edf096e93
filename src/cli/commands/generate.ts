// retrieval-lens generate --model DIR (--prompt TEXT | --prompt-file FILE) [--max-new-tokens N]
//   [--mask L:H,...] [--mask-mode uniform|zero] [--mask-scope decode|all] [--attention] [--json]
import { readFileSync } from 'node:fs';
import { loadModel, argmax, RetrievalLensError, type HeadRef, type MaskMode, type MaskScope } from '../../engine/index.js';
import { parseArgs, UsageError } from '../args.js';
import { defaultModelDir } from '../defaults.js';
import type { Command } from '../io.js';

const HELP = `usage: retrieval-lens generate [--model DIR|HUB_ID] (--prompt TEXT | --prompt-file FILE)
    [--max-new-tokens N] [--mask L:H,L:H,...] [--mask-mode uniform|zero] [--mask-scope decode|all]
    [--temperature T --top-k K --top-p P --seed S] [--attention] [--json] [--dtype D]
Masks: "uniform" (default, the paper's: the head attends uniformly), "zero" (head output 0);
scope "decode" (default, the paper's: prefill unmasked) or "all".
--attention adds, per generated token, the argmax position of every head ([layers][heads]).
`;

export function parseMask(text: string): HeadRef[] {
  return text
    .split(',')
    .filter((s) => s.trim())
    .map((s) => {
      const m = /^\s*(\d+)[:-](\d+)\s*$/.exec(s);
      if (!m) throw new UsageError(`--mask takes LAYER:HEAD pairs separated by commas, got "${s}"`);
      return { layer: Number(m[1]), head: Number(m[2]) };
    });
}

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    model: { type: 'string' },
    dtype: { type: 'string' },
    prompt: { type: 'string' },
    'prompt-file': { type: 'string' },
    'max-new-tokens': { type: 'number' },
    mask: { type: 'string' },
    'mask-mode': { type: 'string' },
    'mask-scope': { type: 'string' },
    temperature: { type: 'number' },
    'top-k': { type: 'number' },
    'top-p': { type: 'number' },
    seed: { type: 'number' },
    attention: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (flags.help) {
    io.stdout(HELP);
    return 0;
  }
  let prompt = flags.prompt as string | undefined;
  if (flags['prompt-file']) {
    try {
      prompt = readFileSync(flags['prompt-file'] as string, 'utf8');
    } catch (e) {
      throw new RetrievalLensError('BAD_INPUT', `cannot read --prompt-file: ${(e as Error).message}`);
    }
  }
  if (prompt === undefined) throw new UsageError('give --prompt TEXT or --prompt-file FILE');
  if (prompt.trim() === '') throw new RetrievalLensError('EMPTY_INPUT', 'the prompt is empty');
  const mode = (flags['mask-mode'] as string) ?? 'uniform';
  const scope = (flags['mask-scope'] as string) ?? 'decode';
  if (mode !== 'uniform' && mode !== 'zero') throw new UsageError(`--mask-mode must be uniform or zero, got "${mode}"`);
  if (scope !== 'decode' && scope !== 'all') throw new UsageError(`--mask-scope must be decode or all, got "${scope}"`);
  const heads = flags.mask ? parseMask(flags.mask as string) : [];

  const model = await loadModel((flags.model as string) ?? defaultModelDir(), { dtype: flags.dtype as string | undefined });
  try {
    const { info } = model;
    const ids = model.tokenizer.encode(prompt);
    const perStep: { token: number; text: string; position: number; argmax?: number[][] }[] = [];
    const result = await model.generate(ids, {
      maxNewTokens: (flags['max-new-tokens'] as number) ?? 50,
      mask: heads.length ? { heads, mode: mode as MaskMode, scope: scope as MaskScope } : undefined,
      sampling: { temperature: flags.temperature as number, topK: flags['top-k'] as number, topP: flags['top-p'] as number, seed: flags.seed as number },
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
        JSON.stringify({ model: info.id, promptTokens: result.promptTokens, promptTokenIds: ids, text: result.text, tokenIds: result.tokenIds, stoppedBy: result.stoppedBy, mask: { heads, mode, scope }, steps: perStep }, null, 1) + '\n',
      );
    } else {
      io.stdout(result.text + '\n');
    }
    return 0;
  } finally {
    await model.dispose();
  }
};
