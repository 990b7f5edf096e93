// retrieval-lens inspect --help
import { JSON_OPTION, MODEL_OPTIONS, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: 'Architecture, sizes and attention nodes of a model.',
  usage: '[options]',
  options: [...MODEL_OPTIONS, JSON_OPTION],
  notes: [
    'Loads the model, instruments its graph and prints its architecture, context length, the attention nodes found and where the instrumented graph is cached. A Hub model is given as hf:owner/name[@revision].',
  ],
};
