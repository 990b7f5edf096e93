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
    [
      '--scores FILE',
      'with --attention: show the top heads of this scores file (what detect wrote); with --decore: its retrieval heads are the ones masked',
    ],
    ['--top-heads N', 'with --attention: how many heads to show per token, ranked or from --scores (default: 4)'],
    ['--decore', 'DeCoRe decoding: next = argmax (1 + a) log p_base - a log p_masked, the masked model with retrieval heads masked'],
    ['--decore-k K', "with --decore: mask the scores file's top K heads instead of its retrieval heads"],
    ['--decore-alpha A', 'with --decore: a fixed a (0: greedy) instead of the entropy of p_base at each step'],
    JSON_OPTION,
  ],
  notes: [
    "DeCoRe (--decore, with --scores FILE or --mask L:H,...) masks the DeCoRe way by default (mask mode zero, scope all); --json adds per step a, and the base and masked models' own tokens where they differ from DeCoRe's choice. It decodes greedily: --temperature and --attention are refused with it.",
    'With --attention and --json, each step carries "argmax": the position every head attends to most, as [layers][heads]. Without --json, a table follows the text: per generated token, the chosen heads\' strongest position, its token and its attention weight. Without --heads, a head\'s attention on the first position (where many heads park their attention) does not count towards its rank.',
  ],
};
