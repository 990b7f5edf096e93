// The few pure method functions the extension host uses directly (file formats, comparison,
// built-in needles). Model runs never happen here: they go through the worker.
export { MAX_SCORES_BYTES, parseScoresJson, toReferenceFormat, toCsv } from '../method/formats.js';
export { decodeText } from '../shared/textFile.js';
export { compareScores } from '../method/analyze.js';
export { DEFAULT_NEEDLES } from '../method/needles.js';
export { scoresOrigin } from '../method/analyze.js';
export { alignedMatrices } from '../method/agreement.js';
export { COMPARE_KS, DISAGREE_K } from '../method/defaults.js';
