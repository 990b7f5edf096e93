// The records the Store keeps: runs and the document they were made on, highlights, ablations,
// comparisons and attributions.
import type { AblationFile, ScoresFile } from '../../method/types.js';
import type { InspectResponse } from '../../worker/protocol.js';
import type { AblationView, AttributionView, ScoreMapView } from '../../shared/webviewProtocol.js';
import type { EolMap } from '../highlights/offsets.js';

/** The text a run was made on: where it lives, and what the model saw of it. */
export interface DocContext {
  uri: string;
  version: number;
  /** Document offset of the haystack's first character. */
  rangeStart: number;
  rangeEnd: number;
  eol: EolMap;
}

export interface Run {
  name: string;
  scores: ScoresFile;
  view: ScoreMapView;
  source: 'run' | 'file';
  doc: DocContext | null;
  modelSpec: string | null;
  /** Cases so far of a detection still running; the finished run replaces it. */
  partial?: { done: number; total: number };
}

export interface InspectState {
  data: InspectResponse;
  doc: DocContext;
  modelSpec: string;
}

/** The score sets a comparison was made from, kept so it can be redone at another level. */
export interface CompareSource {
  name: string;
  scores: ScoresFile;
}

/** An attribution: its view, and where its sources are in the editor (document offsets, UTF-16). */
export interface Attribution {
  view: AttributionView;
  uri: string;
  version: number;
  /** Per answer token, best first; `all`: the whole answer's. */
  tokenSources: { start: number; end: number; weight: number }[][];
  all: { start: number; end: number; weight: number }[];
}

export interface Ablation {
  view: AblationView;
  file: AblationFile;
}
