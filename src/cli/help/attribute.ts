// retrieval-lens attribute --help
import { JSON_OPTION, MODEL_OPTIONS, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: "Where an answer came from: the retrieval heads' attention over your document's sentences, and a grounding score.",
  usage: '--context-file F --question Q --scores S [options]',
  options: [
    ...MODEL_OPTIONS,
    ['--context-file F', 'the document to answer from (required)'],
    ['--question Q', 'the question (required)'],
    ['--scores FILE', 'the scores file of detect (required): its retrieval heads, weighted by their scores'],
    ['--k K', "use the scores file's top K heads instead of its retrieval heads"],
    ['--unit sentence|line', 'what a source span is (default: sentence)'],
    ['--top N', 'source spans reported per answer token (default: 3)'],
    ['--flag-below X', 'flag the answer as weakly grounded below this grounding score (default: 0.5)'],
    ['--max-new-tokens N', 'tokens generated (default: 50)'],
    JSON_OPTION,
  ],
  notes: [
    "For every answer token, the retrieval heads' attention is summed over the sentences (or lines) of F; the top spans are [start, end) offsets in UTF-16 code units of F as read (a BOM dropped, CRLF kept: what VS Code's document offsets count). grounding is the share of answer tokens whose retrieval-head attention lies mostly in F rather than in the question or the answer so far. A document too long for the context is cut (contextChars says where).",
  ],
};
