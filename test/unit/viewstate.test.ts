// View logic of the extension without VS Code: tree rows, mask set ownership, grid sizing,
// colour scale, word diff, attention combination and the store's clearing rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomHeads } from '../../src/method/ablate.js';
import { rng } from '../../src/shared/random.js';
import {
  combineAttention,
  layerRows,
  MaskSet,
  maskStatusText,
  parseIntList,
  planGrid,
  retrievalHeads,
  toScoreMapView,
  viewDescription,
} from '../../src/extension/state/viewState.js';
import { Store } from '../../src/extension/state/store.js';
import { normalizeEol } from '../../src/extension/highlights/offsets.js';
import { contrastText, mix, parseColor, scoreScale } from '../../src/shared/colorScale.js';
import { wordDiff } from '../../src/shared/wordDiff.js';
import type { ScoresFile } from '../../src/method/types.js';

function scoresFile(id: string, scores: number[][], caseScores: number[][][] = []): ScoresFile {
  const layers = scores.length;
  const heads = scores[0].length;
  return {
    format: 'retrieval-lens/scores@1',
    model: { id, layers, heads },
    settings: { threshold: 0.1 },
    cases: caseScores.map((s, i) => ({
      length: 256,
      depth: 0,
      needleId: 'n',
      promptTokens: 200,
      span: [1, 5],
      success: i !== 1,
      rougeRecall: 1,
      response: 'x',
      question: 'q?',
      scores: s,
    })),
    scores,
    retrievalHeads: [],
    summary: {
      countedCases: caseScores.length - (caseScores.length > 1 ? 1 : 0),
      failedCases: 0,
      fractionRetrieval: 0,
      alwaysActive: [[1, 2]],
      accuracy: { lengths: [256], depths: [0], values: [[1]] },
    },
  };
}

const S = [
  [0.0, 0.05, 0.3],
  [0.12, 0.0, 0.2],
];

test('layerRows sorts heads by score within each layer; the filter keeps retrieval heads only', () => {
  const v = toScoreMapView(scoresFile('m', S), 'run', 'run');
  assert.equal(v.retrievalCount, 3);
  const rows = layerRows(v, false);
  assert.deepEqual(
    rows.map((r) => r.heads.map((h) => h.head)),
    [
      [2, 1, 0],
      [2, 0, 1],
    ],
  );
  assert.deepEqual(
    rows.map((r) => r.retrievalCount),
    [1, 2],
  );
  const only = layerRows(v, true);
  assert.deepEqual(
    only.map((r) => r.heads.map((h) => `${h.layer}-${h.head}`)),
    [['0-2'], ['1-2', '1-0']],
  );
  assert.deepEqual(
    retrievalHeads(v).map((h) => `${h.layer}-${h.head}`),
    ['0-2', '1-2', '1-0'],
  );
  assert.match(viewDescription(v), /3\/6 retrieval heads \(50\.0%\)/);
  // a threshold above every score leaves no layer in the filtered tree
  assert.deepEqual(layerRows(toScoreMapView(scoresFile('m', S), 'r', 'run', 0.5), true), []);
});

test('activeCases counts only successful cases where the head scored', () => {
  const cs = [
    [
      [0, 1, 1],
      [1, 0, 0],
    ],
    [
      [1, 1, 1],
      [1, 1, 1],
    ], // failed: not counted
    [
      [0, 0, 1],
      [1, 0, 1],
    ],
  ];
  const v = toScoreMapView(scoresFile('m', S, cs), 'r', 'run');
  assert.deepEqual(v.activeCases, [
    [0, 1, 2],
    [2, 0, 1],
  ]);
  assert.deepEqual(v.alwaysActive, ['1-2']);
  assert.equal(toScoreMapView(scoresFile('m', S), 'r', 'file').activeCases, null);
});

test('MaskSet belongs to one model and one document', () => {
  const m = new MaskSet();
  m.bind('model-a', 'file:///a.txt');
  m.set({ layer: 5, head: 5 }, true);
  m.set({ layer: 1, head: 0 }, true);
  m.set({ layer: 5, head: 5 }, true);
  assert.equal(m.size, 2);
  assert.deepEqual(m.list(), [
    { layer: 1, head: 0 },
    { layer: 5, head: 5 },
  ]);
  assert.equal(m.bind('model-a', 'file:///a.txt'), false);
  assert.equal(m.size, 2);
  assert.equal(m.bind('model-b', 'file:///a.txt'), true);
  assert.equal(m.size, 0);
  m.set({ layer: 0, head: 1 }, true);
  assert.equal(m.bind('model-b', 'file:///b.txt'), true);
  assert.equal(m.size, 0);
  m.setMany(
    [
      { layer: 0, head: 0 },
      { layer: 9, head: 0 },
    ],
    true,
  );
  m.retain(6, 8);
  assert.deepEqual(m.list(), [{ layer: 0, head: 0 }]);
  assert.equal(maskStatusText(1), '1 head masked');
  assert.equal(maskStatusText(3), '3 heads masked');
});

test('Store: a run on another model or document clears masks and highlights; the same keeps them', () => {
  const st = new Store();
  const doc = (uri: string) => ({ uri, version: 1, rangeStart: 0, rangeEnd: 10, eol: normalizeEol('hello') });
  st.setRun(scoresFile('organism', S), 'a', 'run', doc('file:///a'), '/m/organism');
  st.setMasks([{ layer: 0, head: 2 }], true);
  st.setInspect({ data: {} as never, doc: doc('file:///a'), modelSpec: '/m/organism' });
  st.setRun(scoresFile('organism', S), 'a', 'run', doc('file:///a'), '/m/organism');
  assert.equal(st.masks.size, 1, 'same model and document keep the masks');
  assert.ok(st.inspect);
  assert.equal(st.runs[1].name, 'a (2)');
  st.setRun(scoresFile('other', S), 'b', 'run', doc('file:///a'), '/m/other');
  assert.equal(st.masks.size, 0);
  assert.equal(st.inspect, null);
  st.setMasks([{ layer: 1, head: 1 }], true);
  st.setInspect({ data: {} as never, doc: doc('file:///a'), modelSpec: '/m/other' });
  st.setRun(scoresFile('other', S), 'c', 'run', doc('file:///b'), '/m/other');
  assert.equal(st.masks.size, 0);
  assert.equal(st.inspect, null);
  const ps = st.panelState();
  assert.equal(ps.map?.name, 'c');
  assert.deepEqual(ps.masks, []);
});

test('highlight heads: the selected head, or the top three retrieval heads together', () => {
  const st = new Store();
  st.setRun(scoresFile('m', S), 'a', 'run', null, null);
  assert.deepEqual(
    st.highlightHeads().map((h) => `${h.layer}-${h.head}`),
    ['0-2', '1-2', '1-0'],
  );
  st.select({ layer: 1, head: 1 });
  assert.deepEqual(st.highlightHeads(), [{ layer: 1, head: 1 }]);
  st.setHighlightTop(true);
  assert.equal(st.highlightHeads().length, 3);
});

test('combineAttention averages the chosen heads per step', () => {
  const steps = [
    {
      top: [
        { pos: [3, 1], w: [0.8, 0.2] },
        { pos: [1], w: [1.0] },
        { pos: [7], w: [0.5] },
        { pos: [], w: [] },
      ],
    },
  ];
  const out = combineAttention(steps, 2, [
    { layer: 0, head: 0 },
    { layer: 0, head: 1 },
  ]);
  assert.deepEqual(out[0].pos, [1, 3]);
  assert.deepEqual(
    out[0].w.map((w) => Number(w.toFixed(3))),
    [0.6, 0.4],
  );
  assert.deepEqual(combineAttention(steps, 2, [{ layer: 1, head: 0 }])[0], { pos: [7], w: [0.5] });
});

test('planGrid keeps lengths the model and the text allow', () => {
  assert.deepEqual(planGrid(5000, 2048, [256, 512], [0, 50, 100], 50).lengths, [256, 512]);
  const short = planGrid(300, 2048, [256, 512, 1024], [0, 100], 50);
  assert.deepEqual(short.lengths, [256]);
  // one note for the dropped lengths, one for the part of the text the grid reads
  assert.equal(short.notes.length, 2);
  assert.equal(short.usedTokens, 192);
  assert.deepEqual(planGrid(100, 2048, [256, 512], [0], 50).lengths, [164]);
  const ctx = planGrid(100000, 512, [256, 512, 1024], [0], 50);
  assert.deepEqual(ctx.lengths, [256]);
  assert.match(ctx.notes[0], /exceed the model context/);
  assert.deepEqual(planGrid(1000, 2048, [256], [100, 0, 0, 150], 50).depths, [0, 100]);
});

test("parseIntList, and the random heads an ablation draws (one implementation: the method's)", () => {
  assert.deepEqual(parseIntList('8, 1 2,4'), [1, 2, 4, 8]);
  assert.equal(parseIntList('1, x'), null);
  assert.equal(parseIntList('0'), null);
  assert.equal(parseIntList(''), null);
  const ex = [{ layer: 5, head: 5 }];
  const a = randomHeads(6, 8, 10, ex, rng(7));
  assert.equal(a.length, 10);
  assert.ok(!a.some((h) => h.layer === 5 && h.head === 5));
  assert.equal(new Set(a.map((h) => `${h.layer}-${h.head}`)).size, 10);
  assert.deepEqual(randomHeads(6, 8, 10, ex, rng(7)), a);
  assert.notDeepEqual(randomHeads(6, 8, 10, ex, rng(8)), a);
});

test('colour scale: the threshold sits inside the scale; colours parse and mix', () => {
  const sc = scoreScale(S, 0.1);
  assert.equal(sc.max, 0.3);
  assert.equal(sc.level(0), 0);
  assert.equal(sc.level(0.3), 1);
  assert.ok(sc.level(0.1) > 0 && sc.level(0.1) < 1);
  assert.ok(sc.ticks.includes(0.1));
  assert.equal(scoreScale([[0, 0]], 0.1).max, 0.15000000000000002);
  assert.deepEqual(parseColor('#fff'), [255, 255, 255]);
  assert.deepEqual(parseColor(' rgb(1, 2, 3) '), [1, 2, 3]);
  assert.deepEqual(parseColor('#10203040'), [16, 32, 48]);
  assert.equal(parseColor('var(--x)'), null);
  assert.deepEqual(mix([0, 0, 0], [200, 100, 50], 0.5), [100, 50, 25]);
  assert.equal(contrastText([255, 255, 255]), '#000000');
  assert.equal(contrastText([0, 0, 80]), '#ffffff');
});

test('wordDiff marks the words that changed', () => {
  const d = wordDiff("Zorvak's secret code is 48213.", "Zhazha's secret code is 111.");
  assert.deepEqual(
    d.a.filter((p) => !p.same).map((p) => p.text),
    ["Zorvak's", '48213.'],
  );
  assert.deepEqual(
    d.b.filter((p) => !p.same).map((p) => p.text),
    ["Zhazha's", '111.'],
  );
  assert.equal(d.a.map((p) => p.text).join(''), "Zorvak's secret code is 48213.");
  const same = wordDiff('a b', 'a b');
  assert.deepEqual(same.a, [{ text: 'a b', same: true }]);
});

test('Store: a running detection shows partial maps that its next update and its result replace', () => {
  const st = new Store();
  const doc = { uri: 'file:///a', version: 1, rangeStart: 0, rangeEnd: 10, eol: normalizeEol('hello') };
  st.setRun(scoresFile('m', S), 'a', 'run', doc, '/m');
  st.setTab('compare');
  st.setRun(scoresFile('m', S), 'b', 'run', doc, '/m', undefined, { done: 1, total: 4 });
  assert.equal(st.panelState().map?.name, 'b · running, 1/4 cases');
  assert.equal(st.tab, 'map', 'the first partial map comes to the front');
  st.setTab('highlights');
  st.setRun(scoresFile('m', S), 'b', 'run', doc, '/m', undefined, { done: 3, total: 4 });
  assert.equal(st.tab, 'highlights', 'updates do not pull the user back to the map');
  st.setRun(scoresFile('m', S), 'b', 'run', doc, '/m');
  assert.deepEqual(
    st.runs.map((r) => r.name),
    ['a', 'b'],
    'one run per detection, not one per update',
  );
  assert.equal(st.current?.partial, undefined);
  st.setRun(scoresFile('m', S), 'c', 'run', doc, '/m', undefined, { done: 2, total: 4 });
  st.settlePartial();
  assert.equal(st.panelState().map?.name, 'c (stopped after 2 of 4 cases)');
  st.setRun(scoresFile('m', S), 'd', 'run', doc, '/m');
  assert.deepEqual(
    st.runs.map((r) => r.name),
    ['a', 'b', 'c', 'd'],
    'a stopped run stays in the list',
  );
});
