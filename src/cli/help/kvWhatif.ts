// retrieval-lens kv-whatif --help
import { JSON_OPTION, MODEL_OPTIONS, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: 'NIAH accuracy against KV memory: retrieval heads keep the whole cache, every other head a sink and a window.',
  usage: '--scores FILE [options]',
  options: [
    ...MODEL_OPTIONS,
    ['--scores FILE', 'the scores file of detect (required): its top heads keep the whole cache'],
    ['--k K,K,...', 'numbers of top heads kept whole (default: 1,2,4,8)'],
    ['--window N', 'recent positions a restricted head still sees (default: 32)'],
    ['--sink N', 'first positions a restricted head still sees (default: 4)'],
    ['--random-trials N', 'draws of as many random KV heads kept whole, per k (default: 5)'],
    ['--seed S', 'seed of the random draws (default: 1)'],
    ['--haystack FILE...', 'haystack texts (default: the bundled public-domain Shakespeare)'],
    ['--needles-file F.jsonl', 'needles (default: the bundled ones detection did not use)'],
    ['--lengths L,L,...', 'context lengths of the cases (default: those of the scores file)'],
    ['--depths D,D,...', "needle depths in percent (default: halfway between the scores file's)"],
    ['--max-new-tokens N', 'tokens generated per case (default: 50)'],
    ['--out FILE', 'write the result as JSON'],
    JSON_OPTION,
  ],
  notes: [
    'With grouped-query attention a KV head serves several query heads: keeping a head whole keeps its KV head, and every query head of that group then attends in full. The prompt is read with the whole cache (as a policy that compresses the cache after the prompt would), and every decoding step of a restricted head sees only the first --sink and the last --window positions.',
    "Compared against the same number of random KV heads kept whole (drawn from the others: the same KV memory) and the whole cache. kvFraction is the cache the policy keeps over the whole cache at the cases' lengths. The cases are fresh, as ablate's: needles the detection did not use, depths halfway between its depths.",
  ],
};
