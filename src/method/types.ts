// Result shapes of the method, as written to disk by `retrieval-lens detect|ablate` and read by
// the extension. Layers and heads are 0-based everywhere, as in the paper's files.

export interface Needle {
  id: string;
  /** The statement inserted into the haystack. */
  needle: string;
  question: string;
  /** The answer span the model should copy ("real_needle" in the reference code). */
  real_needle: string;
}

export interface DetectionSettings {
  lengths: number[];
  depths: number[];
  needles: string[];
  maxNewTokens: number;
  threshold: number;
  template: string;
  haystack: string[];
  /** Insert a BOS before the needle, as the reference's encode() does; off by default. */
  needleBos: boolean;
}

/** How heads were scored: the paper's decoding rule (default), or one of the detectors beside it (src/method/detectors). */
export type DetectionMethod = 'paper' | 'qrhead' | 'echo' | 'induction';

/** The repeated random-token sequences echo and induction scores read (one per trial). */
export interface RandomSequenceSettings {
  /** Random tokens per block (distinct within a block). */
  blockLength: number;
  /** Times the block is repeated; queries from the second copy on are scored. */
  repeats: number;
  /** Sequences, each from its own seed (seed, seed + 1, ...). */
  trials: number;
  seed: number;
  /** Tokens before the first block (the BOS, where the model has one). */
  prefix: number[];
}

export interface CaseResult {
  length: number;
  /** The grid's depth (percent): the accuracy cell this case counts in. */
  depth: number;
  /**
   * Where the needle really went, in percent of the haystack: the grid's depth moved to a sentence
   * end (see insertionPoint). Absent in files written before it was recorded.
   */
  needleDepth?: number;
  needleId: string;
  promptTokens: number;
  /** Token range [start, end) of the answer span in the prompt. */
  span: [number, number];
  /** Counted in the mean. Detectors that generate nothing count every case (and leave rougeRecall 0, response ''). */
  success: boolean;
  rougeRecall: number;
  response: string;
  /** qrhead: token range [start, end) of the question, whose rows were scored. */
  questionSpan?: [number, number];
  question: string;
  /** Per-head score of this case, [layers][heads]; credit per step (can exceed 1). */
  scores: number[][];
}

/**
 * How a score file was made. Our runs write every DetectionSettings field; a file read from the
 * reference's head_score format says only where it came from; an older or hand-edited file of
 * ours may lack fields. Readers take what is there.
 */
export type ScoresSettings = Partial<DetectionSettings> & {
  source?: string;
  /** Absent in files written before other methods existed: those are the paper's. */
  method?: DetectionMethod;
  /** echo / induction: the sequences scored. */
  randomSequence?: RandomSequenceSettings;
  /** 'kv': the matrix's columns are KV heads (DuoAttention's gates); absent: query heads. */
  level?: 'query' | 'kv';
  /** An imported head list: only the listed heads have a score, and the sizes are the largest indices listed. */
  headList?: boolean;
};

export interface ScoresFile {
  format: 'retrieval-lens/scores@1';
  /** sha256 of the model's ONNX file: runs of one model on different machines share it. */
  model: { id: string; layers: number; heads: number; kvHeads?: number; sha256?: string };
  settings: ScoresSettings;
  cases: CaseResult[];
  /** Mean over counted (successful) cases, [layers][heads]. */
  scores: number[][];
  /** [[layer, head, score], ...], score descending, heads >= threshold. */
  retrievalHeads: [number, number, number][];
  summary: {
    countedCases: number;
    failedCases: number;
    fractionRetrieval: number;
    /** Heads with score > 0 in every counted case. */
    alwaysActive: [number, number][];
    /** NIAH accuracy per length x depth cell: accuracy[lengthIndex][depthIndex]. */
    accuracy: { lengths: number[]; depths: number[]; values: number[][] };
  };
}

export interface AblationResultRow {
  k: number;
  /** Accuracy (0..1) with the top-k heads by retrieval score masked. */
  top: number;
  /** Accuracy with k random non-retrieval heads masked, one per trial. */
  random: number[];
  /** The same with success = the response contains the whole answer. */
  topExact?: number;
  randomExact?: number[];
  topHeads?: { layer: number; head: number }[];
  randomHeads?: { layer: number; head: number }[][];
}

export interface AblationFile {
  format: 'retrieval-lens/ablation@1';
  model: { id: string; layers: number; heads: number };
  settings: Record<string, unknown>;
  baseline: number;
  baselineExact?: number;
  results: AblationResultRow[];
}
