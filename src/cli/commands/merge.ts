// retrieval-lens merge PART... [--out scores.json] [--json]: the parts of a sharded detection grid
// into exactly the scores file one unsharded run writes.
import { mergeParts, parsePartial } from '../../method/partial.js';
import { checkOutputPath, writeFileAtomic } from '../../method/formats.js';
import { readTextFile } from '../../shared/textFile.js';
import { MAX_SCORES_BYTES } from '../../method/formats.js';
import { parseArgs, UsageError } from '../args.js';
import { describeScores } from './detect.js';
import type { Command } from '../io.js';
import { formatJson } from '../json.js';

export const run: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { out: { type: 'string' }, json: { type: 'boolean' } }, { positionals: Infinity });
  if (positionals.length === 0) throw new UsageError('give the part files to merge');
  const out = flags.out;
  if (out) checkOutputPath(out);
  const parts = positionals.map((source) => ({
    source,
    file: parsePartial(readTextFile(source, { maxBytes: MAX_SCORES_BYTES, what: 'part file', code: 'BAD_SCORES_FILE' }), source),
  }));
  const scores = mergeParts(parts);
  if (out) writeFileAtomic(out, formatJson(scores));
  if (flags.json) io.stdout(formatJson(scores) + '\n');
  else
    io.stdout(
      `merged ${parts.length} part(s), ${scores.cases.length} cases\n` +
        describeScores(scores, scores.model.layers * scores.model.heads) +
        (out ? `\nwrote ${out}` : '') +
        '\n',
    );
  return 0;
};
