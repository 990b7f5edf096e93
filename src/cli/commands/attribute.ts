// retrieval-lens attribute: "where did this answer come from?" on the user's own document.
import { attribute } from '../../method/attributionRun.js';
import { readScoresFile } from '../../method/formats.js';
import { pickHeads } from '../../method/heads.js';
import { RetrievalLensError } from '../../engine/index.js';
import { parseArgs, UsageError } from '../args.js';
import { checkModelFlags, FLAGS, MAX_PROMPT_BYTES, MODEL_FLAGS, openModel } from '../common.js';
import { readTextFile } from '../../shared/textFile.js';
import type { Command } from '../io.js';

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, {
    ...MODEL_FLAGS,
    'context-file': { type: 'string' },
    question: { type: 'string' },
    scores: { type: 'string' },
    k: { type: 'int', min: 1, max: 100_000 },
    unit: { type: 'string', choices: ['sentence', 'line'] },
    top: { type: 'int', min: 1, max: 1000 },
    'flag-below': { type: 'number', min: 0, max: 1 },
    'max-new-tokens': FLAGS.maxNewTokens,
    json: { type: 'boolean' },
  });
  checkModelFlags(flags);
  if (!flags['context-file']) throw new UsageError('--context-file FILE is required (the document to answer from)');
  if (flags.question === undefined) throw new UsageError('--question TEXT is required');
  if (!flags.scores) throw new UsageError('--scores FILE is required (the output of retrieval-lens detect)');
  const doc = readTextFile(flags['context-file'], { maxBytes: MAX_PROMPT_BYTES, what: '--context-file' });
  if (!doc.trim()) throw new RetrievalLensError('EMPTY_INPUT', `--context-file ${flags['context-file']} is empty`);
  const scores = readScoresFile(flags.scores);
  const model = await openModel(flags, io);
  try {
    const heads = pickHeads(scores, model.info, flags.k);
    const r = await attribute(model, doc, flags.question, heads, {
      unit: flags.unit as 'sentence' | 'line' | undefined,
      top: flags.top,
      flagBelow: flags['flag-below'],
      maxNewTokens: flags['max-new-tokens'],
      signal: io.signal,
    });
    if (r.contextChars < r.documentChars)
      io.stderr(
        `warning: the document was cut to its first ${r.contextChars} of ${r.documentChars} characters to fit the model's context\n`,
      );
    if (flags.json) {
      io.stdout(JSON.stringify(r) + '\n');
      return 0;
    }
    const g = r.grounding;
    const snippet = (s: { start: number; end: number }) => {
      const t = doc.slice(s.start, s.end).replace(/\s+/g, ' ');
      return JSON.stringify(t.length > 60 ? t.slice(0, 57) + '...' : t);
    };
    const lines = [
      `answer: ${r.answer}`,
      `grounding: ${g.score.toFixed(2)} (${g.groundedTokens} of ${g.answerTokens} answer tokens read mostly the document)${g.low ? '  LOW: the answer may not come from the document' : ''}`,
      `heads: ${r.heads.map((h) => `${h.layer}-${h.head} (${h.score.toFixed(3)})`).join(', ')}`,
      `${'token'.padEnd(14)} ${'in doc'.padStart(6)}  top source (weight, offsets)`,
      ...r.tokens.map((t) => {
        const s = t.sources[0];
        const where = s ? `${s.weight.toFixed(2)} [${s.start}, ${s.end}) ${snippet(s)}` : '-';
        return `${JSON.stringify(t.text).padEnd(14)} ${t.contextShare.toFixed(2).padStart(6)}  ${where}`;
      }),
    ];
    io.stdout(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};
