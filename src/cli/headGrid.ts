// What ablate and kv-whatif both read before loading the model: the detection's scores file, the
// k values, and the fresh-case grid. Usage errors (exit 2) come before anything is read (exit 1).
import { checkOutputPath, readScoresFile } from '../method/formats.js';
import { readNeedlesFile } from '../method/needles.js';
import { parseIntList, parseNumberList, UsageError } from './args.js';
import { DEPTH_RANGE, LENGTH_RANGE, readHaystacks } from './common.js';

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
