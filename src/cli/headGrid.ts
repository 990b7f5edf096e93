// What ablate and kv-whatif both read before loading the model: the detection's scores file, the
// k values, and the fresh-case grid. Usage errors (exit 2) come before anything is read (exit 1).
import { checkOutputPath, readScoresFile } from '../method/formats.js';
import { readNeedlesFile } from '../method/needles.js';
import { parseIntList, parseNumberList, UsageError, type FlagSpec } from './args.js';
import { DEPTH_RANGE, FLAGS, LENGTH_RANGE, MODEL_FLAGS, readHaystacks } from './common.js';

/** The flags both commands take; each adds its own. */
export const HEAD_GRID_FLAGS = {
  ...MODEL_FLAGS,
  scores: { type: 'string' },
  k: { type: 'string' },
  'random-trials': { type: 'int', min: 1, max: 1000 },
  seed: { type: 'int', min: 0, max: 0xffffffff },
  haystack: { type: 'list', variadic: true },
  'needles-file': { type: 'string' },
  lengths: { type: 'string' },
  depths: { type: 'string' },
  'max-new-tokens': FLAGS.maxNewTokens,
  out: { type: 'string' },
  json: { type: 'boolean' },
} satisfies Record<string, FlagSpec>;

export interface HeadGridFlags {
  scores?: string;
  k?: string;
  lengths?: string;
  depths?: string;
  out?: string;
  haystack?: string[];
  'needles-file'?: string;
}

export function readHeadGridInputs(flags: HeadGridFlags) {
  if (!flags.scores) throw new UsageError('--scores FILE is required (the output of retrieval-lens detect)');
  const ks = flags.k ? parseIntList(flags.k, '--k', { min: 1, max: 100_000 }) : undefined;
  const lengths = flags.lengths ? parseIntList(flags.lengths, '--lengths', LENGTH_RANGE) : undefined;
  const depths = flags.depths ? parseNumberList(flags.depths, '--depths', DEPTH_RANGE) : undefined;
  if (flags.out) checkOutputPath(flags.out);
  const scores = readScoresFile(flags.scores);
  const haystack = readHaystacks(flags.haystack);
  const needles = flags['needles-file'] ? readNeedlesFile(flags['needles-file']) : undefined;
  return { scores, ks, lengths, depths, haystack, needles };
}
