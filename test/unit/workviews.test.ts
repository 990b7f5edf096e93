// View logic of the agreement, KV what-if and attribution views, and their panel messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareLevelFor, toAttribution, toCompareView, toKvWhatifView } from '../../src/extension/state/workViews.js';
import { toScoreMapView } from '../../src/extension/state/viewState.js';
import { Store } from '../../src/extension/state/store.js';
import { kvSeries } from '../../src/shared/figures.js';
import { parseFromWebview } from '../../src/shared/webviewProtocol.js';
import type { ScoresFile } from '../../src/method/types.js';
import type { AttributionResult, KvWhatifResult } from '../../src/worker/protocol.js';

function scores(id: string, m: number[][], settings: ScoresFile['settings'] = { threshold: 0.1 }, kvHeads?: number): ScoresFile {
  return {
    format: 'retrieval-lens/scores@1',
    model: { id, layers: m.length, heads: m[0].length, ...(kvHeads ? { kvHeads } : {}) },
    settings,
    cases: [],
    scores: m,
    retrievalHeads: [],
    summary: { countedCases: 0, failedCases: 0, fractionRetrieval: 0, alwaysActive: [], accuracy: { lengths: [], depths: [], values: [] } },
  };
}

// 2 layers x 4 query heads over 2 KV heads (groups {0,1}, {2,3}).
const A = scores(
  'm',
  [
    [0.9, 0.1, 0.0, 0.2],
    [0.5, 0.4, 0.3, 0.05],
  ],
  { threshold: 0.1 },
  2,
);
const B = scores(
  'm',
  [
    [0.1, 0.8, 0.0, 0.3],
    [0.6, 0.2, 0.35, 0.0],
  ],
  { threshold: 0.1, method: 'qrhead' },
  2,
);

test('query-level agreement: correlations, overlap for k below the head count, disagreements by rank, origins', () => {
  const v = toCompareView({ name: 'a', scores: A }, { name: 'b', scores: B });
  assert.equal(v.level, 'query');
  assert.equal(v.aggregation, null);
  assert.equal(v.points.length, 8);
  assert.deepEqual(
    v.overlap.map((o) => o.k),
    [5],
  );
  // top 5 of A: 0-0,1-0,1-1,1-2,0-3; of B: 0-1,1-0,1-2,0-3,1-1 -> 4 shared.
  assert.equal(v.overlap[0].shared, 4);
  assert.ok(typeof v.kendall === 'number' && v.kendall > -1 && v.kendall < 1);
  assert.equal(v.originA, 'method paper');
  assert.equal(v.originB, 'method qrhead');
  const heads = v.disagreements!.map((d) => d.head);
  assert.ok(heads.includes('0-0') && heads.includes('0-1'), heads.join(','));
  assert.equal(v.disagreements!.find((d) => d.head === '0-0')!.topOf, 'a');
});

test('KV-level agreement names its aggregation and compares one value per KV head', () => {
  const max = toCompareView({ name: 'a', scores: A }, { name: 'b', scores: B }, 'kv', 'max');
  assert.equal(max.level, 'kv');
  assert.equal(max.aggregation, 'max');
  assert.equal(max.points.length, 4);
  assert.deepEqual(
    max.points.map((p) => [p.key, p.a]),
    [
      ['0-0', 0.9],
      ['0-1', 0.2],
      ['1-0', 0.5],
      ['1-1', 0.3],
    ],
  );
  const mean = toCompareView({ name: 'a', scores: A }, { name: 'b', scores: B }, 'kv', 'mean');
  assert.equal(mean.aggregation, 'mean');
  assert.ok(Math.abs(mean.points[0].a - 0.5) < 1e-12);
});

test('a KV-head file is compared at KV level even when query level is asked', () => {
  const duo = scores(
    'm',
    [
      [1, 0],
      [0, 1],
    ],
    { threshold: 0.5, level: 'kv', source: 'DuoAttention full_attention_heads.tsv' } as ScoresFile['settings'],
  );
  assert.equal(compareLevelFor(A, duo, 'query'), 'kv');
  assert.equal(compareLevelFor(A, B, 'query'), 'query');
  assert.equal(compareLevelFor(A, B, 'kv'), 'kv');
});

test('the map view says which method made the scores', () => {
  assert.equal(toScoreMapView(B, 'b', 'file').origin, 'method qrhead');
  assert.equal(toScoreMapView(A, 'a', 'run').origin, 'method paper');
});

const KV: KvWhatifResult = {
  format: 'retrieval-lens/kv-whatif@1',
  model: { id: 'm', layers: 2, heads: 4, kvHeads: 2 },
  settings: {
    ks: [1, 2],
    window: 64,
    sink: 4,
    randomTrials: 1,
    seed: 1,
    lengths: [512],
    depths: [50],
    needles: ['n'],
    cases: 3,
    threshold: 0.1,
    retrievalHeads: 2,
    maxNewTokens: 20,
  },
  baseline: { accuracy: 1, exact: 0.9, kvFraction: 1 },
  windowOnly: { accuracy: 0.5, exact: 0, kvFraction: 0.1 },
  points: [
    {
      keep: 'retrieval',
      k: 2,
      window: 64,
      sink: 4,
      kvFraction: 0.3,
      accuracy: 1,
      exact: 0.9,
      keptKvHeads: [
        [0, 0],
        [1, 0],
      ],
    },
    {
      keep: 'random',
      k: 2,
      window: 64,
      sink: 4,
      kvFraction: 0.3,
      accuracy: 0.6,
      exact: 0,
      keptKvHeads: [
        [0, 1],
        [1, 1],
      ],
    },
    { keep: 'retrieval', k: 1, window: 64, sink: 4, kvFraction: 0.2, accuracy: 0.8, exact: 0.3, keptKvHeads: [[0, 0]] },
    { keep: 'random', k: 1, window: 64, sink: 4, kvFraction: 0.2, accuracy: 0.5, exact: 0, keptKvHeads: [[1, 1]] },
  ],
};

test('KV what-if series: each policy by KV memory, by the chosen measure, the whole cache and the window alone', () => {
  const v = toKvWhatifView(KV, 'run');
  assert.equal(v.points[0].keptKvHeads, 2);
  const exact = kvSeries(v, 'exact');
  assert.deepEqual(exact.retrieval, [
    { f: 0.2, a: 0.3, k: 1 },
    { f: 0.3, a: 0.9, k: 2 },
  ]);
  assert.deepEqual(
    exact.random.map((p) => p.a),
    [0, 0],
  );
  assert.equal(exact.full, 0.9);
  assert.deepEqual(exact.window, { f: 0.1, a: 0 });
  assert.deepEqual(
    kvSeries(v, 'rouge').retrieval.map((p) => p.a),
    [0.8, 1],
  );
});

test('attribution sources map to document offsets and 1-based lines through CRLF and multi-byte text', () => {
  // The selection starts at document offset 100, on 0-based line 7.
  const raw = 'Intro ✓ line.\r\nThe key is 42.\r\nEnd 😀 here.';
  const keyAt = raw.indexOf('The key');
  const r: AttributionResult = {
    model: 'm',
    answer: ' 42',
    heads: [{ layer: 0, head: 1, score: 0.5 }],
    unit: 'sentence',
    offsets: 'utf16',
    contextChars: raw.length,
    documentChars: raw.length,
    tokens: [{ text: ' 42', contextShare: 0.9, sources: [{ start: keyAt, end: keyAt + 14, weight: 0.7 }] }],
    sources: [{ start: raw.indexOf('End'), end: raw.length, weight: 0.2 }],
    grounding: { score: 1, groundedTokens: 1, answerTokens: 1, threshold: 0.5, low: false },
  } as AttributionResult;
  const a = toAttribution(r, 'q?', 'doc.txt', raw, 100, 7);
  assert.deepEqual(a.tokenSources[0][0], { start: 100 + keyAt, end: 100 + keyAt + 14, weight: 0.7 });
  assert.deepEqual(a.view.tokens[0].sources[0], { line: 9, text: 'The key is 42.', weight: 0.7 });
  assert.deepEqual(a.view.sources[0], { line: 10, text: 'End 😀 here.', weight: 0.2 });
  assert.equal(a.view.selected, null);
  assert.deepEqual(a.view.heads, ['0-1']);

  const store = new Store();
  store.setAttribution({ ...a, uri: 'file:///d', version: 1 });
  assert.equal(store.tab, 'attribution');
  store.selectAttributionToken(0);
  assert.equal(store.panelState().attribution!.selected, 0);
  store.selectAttributionToken(5);
  assert.equal(store.panelState().attribution!.selected, null);
});

test('the panel messages of the new views are checked', () => {
  assert.deepEqual(parseFromWebview({ type: 'setCompareLevel', level: 'kv', aggregation: 'mean' }), {
    type: 'setCompareLevel',
    level: 'kv',
    aggregation: 'mean',
  });
  assert.equal(parseFromWebview({ type: 'setCompareLevel', level: 'kv', aggregation: 'sum' }), null);
  assert.deepEqual(parseFromWebview({ type: 'setDecore', on: true }), { type: 'setDecore', on: true });
  assert.equal(parseFromWebview({ type: 'setDecore', on: 'yes' }), null);
  assert.deepEqual(parseFromWebview({ type: 'selectAttributionToken', index: null }), { type: 'selectAttributionToken', index: null });
  assert.equal(parseFromWebview({ type: 'selectAttributionToken', index: -1 }), null);
  assert.deepEqual(parseFromWebview({ type: 'command', command: 'kvWhatif' }), { type: 'command', command: 'kvWhatif' });
  assert.deepEqual(parseFromWebview({ type: 'exportJson', figure: 'kvwhatif' }), { type: 'exportJson', figure: 'kvwhatif' });
  assert.deepEqual(parseFromWebview({ type: 'setTab', tab: 'attribution' }), { type: 'setTab', tab: 'attribution' });
});
