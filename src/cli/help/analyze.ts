// retrieval-lens analyze --help
import { JSON_OPTION, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: "Summarise or compare score files (ours or the paper's head_score JSON).",
  usage: 'FILE [options]',
  options: [
    ['--compare FILE2', 'compare with a second scores file: Pearson and Spearman correlation, top-k overlap'],
    ['--top N', 'how many top heads to list (default: 10)'],
    JSON_OPTION,
  ],
  notes: [
    'Reads a scores file (ours, or the reference\'s {"layer-head": [...]} head_score JSON) and prints heads, counted cases, the fraction of heads >= 0.1 and exactly 0, heads active in every case and the top heads.',
  ],
};
