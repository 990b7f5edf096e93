// retrieval-lens generate --help
import { JSON_OPTION, MODEL_OPTIONS, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: 'Generate text, optionally with heads masked, and show where the heads look at each token.',
  usage: '(--prompt TEXT | --prompt-file FILE) [options]',
  options: [
    ...MODEL_OPTIONS,
    ['--prompt TEXT', 'the prompt'],
    ['--prompt-file FILE', 'read the prompt from a UTF-8 file'],
    ['--max-new-tokens N', 'tokens to generate (default: 50)'],
    ['--mask L:H,L:H,...', 'heads to mask, as layer:head pairs'],
    ['--mask-mode uniform|zero', "uniform: a masked head attends uniformly (default, the paper's); zero: its output is 0"],
    ['--mask-scope decode|all', "decode: masks apply to generated tokens only (default, the paper's); all: also the prompt"],
    ['--temperature T', 'sample at temperature 0..100 (default: 0, greedy)'],
    ['--top-k K', 'sample among the K most likely tokens (0: off; needs --temperature)'],
    ['--top-p P', 'sample within probability mass P in (0, 1] (needs --temperature)'],
    ['--seed S', 'seed of the sampler, 0..4294967295 (needs --temperature)'],
    ['--attention', 'show, per generated token, the positions and tokens the heads attend to most'],
    ['--heads L:H,L:H,...', 'with --attention: the heads to show (default: the heads with the strongest peak at each token)'],
    ['--scores FILE', 'with --attention: show the top heads of this scores file (what detect wrote)'],
    ['--top-heads N', 'with --attention: how many heads to show per token, ranked or from --scores (default: 4)'],
    JSON_OPTION,
  ],
  notes: [
    'With --attention and --json, each step carries "argmax": the position every head attends to most, as [layers][heads]. Without --json, a table follows the text: per generated token, the chosen heads\' strongest position, its token and its attention weight. Without --heads, a head\'s attention on the first position (where many heads park their attention) does not count towards its rank.',
  ],
};
