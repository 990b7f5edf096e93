// retrieval-lens merge --help
import { JSON_OPTION, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: 'Combine the parts of a grid run with detect --shard i/n into one scores file.',
  usage: 'PART... [options]',
  options: [['--out FILE', 'write the merged scores file'], JSON_OPTION],
  notes: [
    'Combines the parts written by "retrieval-lens detect --shard i/n --out PART" (every shard exactly once, each complete, the same grid and model) into the scores file a single run of the whole grid writes.',
  ],
};
