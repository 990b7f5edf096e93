// The method's defaults, in one place: what the paper's reference code uses unless a user says otherwise.

/** Heads scoring at or above this are retrieval heads (the paper). */
export const DEFAULT_THRESHOLD = 0.1;
/** Tokens generated per needle case (the paper; generation also stops at a newline). */
export const DEFAULT_MAX_NEW_TOKENS = 50;
/** A case counts when the answer's ROUGE-1 recall (stemmed) is above this (the paper's 50%). */
export const SUCCESS_RECALL = 0.5;
/** Needle depths of the grid, percent of the context. */
export const DEFAULT_DEPTHS = [0, 25, 50, 75, 100];
/** Detection uses the first three bundled needles; ablation draws its fresh cases from the others. */
export const DETECTION_NEEDLES = 3;
/** Depth (percent) of the needle in the user's text for highlights and re-generation. */
export const DEFAULT_HIGHLIGHT_DEPTH = 50;
/** Ablation and KV what-if: the k values tried, random sets drawn per k, and the draws' seed. */
export const DEFAULT_ABLATION_KS = [1, 2, 4, 8];
export const DEFAULT_RANDOM_TRIALS = 5;
export const DEFAULT_RANDOM_SEED = 1;
/** k of the top-k overlap reported when two score sets are compared. */
export const COMPARE_KS = [5, 10, 20, 50];

/** Every detection method; the first is the default. */
export const DETECTION_METHODS = ['paper', 'qrhead', 'echo', 'induction'] as const;
/** echo / induction: random tokens per block, copies of it, sequences (one per seed from the first). */
export const PATTERN_BLOCK_LENGTH = 128;
export const PATTERN_REPEATS = 2;
export const PATTERN_TRIALS = 3;
export const PATTERN_SEED = 1;
/** k of the top-k sets whose heads are listed as disagreements when two score sets are compared. */
export const DISAGREE_K = 10;
/** Heads a QRHead-style config export lists (the published configs list 16). */
export const QRHEAD_CONFIG_HEADS = 16;

/** KV what-if: positions a restricted head keeps at the start (attention sink) and at the end (recent window). */
export const DEFAULT_KV_SINK = 4;
export const DEFAULT_KV_WINDOW = 32;
/** Attribution: share of answer tokens whose retrieval-head attention lies mostly in the context, below which an answer is flagged. */
export const GROUNDING_FLAG_BELOW = 0.5;
/** Attribution: source spans reported per answer token. */
export const ATTRIBUTION_TOP_SOURCES = 3;
