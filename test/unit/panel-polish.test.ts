// The panel's and the editor's view logic added for issue 11: whole-word highlights, where the
// strongest attended position lies, step labels, the legend's labelled values, the Head explorer's
// header, the compare warning, both ablation measures and the grid's note on a long text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { attentionRanges, expandToWords, normalizeEol } from '../../src/extension/highlights/offsets.js';
import { tokenSpans } from '../../src/shared/tokenSpans.js';
import { buildPrompt } from '../../src/method/document.js';
import { stepTokenChip, stepTokenLabel, whereIs, WHERE_LABEL } from '../../src/shared/highlightLabels.js';
import { legendLabels, scoreScale, spreadLabels } from '../../src/shared/colorScale.js';
import {
  compareWarning,
  displayModelName,
  planGrid,
  toAblationView,
  toScoreMapView,
  treeHeader,
} from '../../src/extension/state/viewState.js';
import { Store } from '../../src/extension/state/store.js';
import { ablationSeries, cellSize, niceAxis } from '../../src/shared/figures.js';
import type { AblationFile, ScoresFile } from '../../src/method/types.js';
import type { InspectResponse } from '../../src/worker/protocol.js';
import { bundledModel } from '../support/paths.js';

const w = (start: number, end: number, weight = 1) => ({ start, end, weight });

test('expandToWords grows token pieces to whole words and merges the pieces of one word', () => {
  const text = 'The citizens accounted poor, Zorvak\'s code; "o\'er" 42.';
  const at = (s: string) => text.indexOf(s);
  // "ci|ti|zen|s": four pieces, the strongest wins
  const citizens = [
    w(at('citizens'), at('citizens') + 2, 0.2),
    w(at('citizens') + 2, at('citizens') + 4, 0.9),
    w(at('zens'), at('zens') + 3, 0.4),
  ];
  // " accoun" with its leading space, alone
  const accounted = [w(at(' accounted'), at(' accounted') + 7, 0.5)];
  const out = expandToWords(text, [...citizens, ...accounted]);
  assert.deepEqual(
    out.map((r) => [text.slice(r.start, r.end), r.weight]),
    [
      ['citizens', 0.9],
      ['accounted', 0.5],
    ],
  );
  // an apostrophe inside a word belongs to it; punctuation and spaces stay as they are
  const z = expandToWords(text, [w(at("'s"), at("'s") + 2)]);
  assert.equal(text.slice(z[0].start, z[0].end), "Zorvak's");
  const semi = expandToWords(text, [w(at(';'), at(';') + 1)]);
  assert.equal(text.slice(semi[0].start, semi[0].end), ';');
  const space = expandToWords(text, [w(3, 4)]);
  assert.deepEqual(space, [w(3, 4)]);
  // a quote before a word is not part of it
  const oer = expandToWords(text, [w(at('"o') + 1, at('"o') + 2)]);
  assert.equal(text.slice(oer[0].start, oer[0].end), "o'er");
  // digits are a word too; separate words stay separate
  const two = expandToWords(text, [w(at('42'), at('42') + 1, 0.3), w(at('poor'), at('poor') + 2, 0.6)]);
  assert.deepEqual(
    two.map((r) => text.slice(r.start, r.end)),
    ['poor', '42'],
  );
});

test("expandToWords on the bundled model's tokens: every attended piece lights its whole word", async () => {
  const tok = await loadTokenizer(bundledModel);
  const text = 'First Citizen:\r\nWe are accounted poor citizens, the patricians good.\r\n';
  const eol = normalizeEol(text, 0);
  const ids = tok.encode(eol.text);
  const decode = (x: number[]) => tok.decode(x, { skipSpecialTokens: true });
  const spans = tokenSpans(ids, decode);
  assert.equal(decode(ids), eol.text);
  const segments = [{ promptStart: 0, promptEnd: eol.text.length, textStart: 0 }];
  // every token attended, each with its own weight
  const pos = spans.map((_, i) => i);
  const weights = pos.map((i) => 0.1 + (i % 7) / 10);
  const words = expandToWords(text, attentionRanges(spans, segments, eol, pos, weights)).map((r) => text.slice(r.start, r.end));
  const split = words.filter((x) => /\p{L}/u.test(x)).filter((x) => !new RegExp(`(^|[^\\p{L}])${x}([^\\p{L}]|$)`, 'u').test(text));
  assert.deepEqual(split, [], `pieces of words: ${split.join(' | ')}`);
  for (const word of ['accounted', 'citizens', 'patricians']) assert.ok(words.includes(word), `${word} not whole in ${words.join(' | ')}`);
});

test('whereIs says where the strongest position lies; the step label names the end of the answer', () => {
  assert.equal(whereIs(5, [5, 9], [20, 30]), 'needle');
  assert.equal(whereIs(8, [5, 9], [20, 30]), 'needle');
  assert.equal(whereIs(9, [5, 9], [20, 30]), 'elsewhere');
  assert.equal(whereIs(20, [5, 9], [20, 30]), 'question');
  assert.equal(whereIs(29, [5, 9], [20, 30]), 'question');
  assert.equal(whereIs(30, [5, 9], [20, 30]), 'elsewhere');
  assert.equal(whereIs(0, [5, 9], [0, 0]), 'elsewhere');
  assert.equal(WHERE_LABEL.needle, 'in the needle');
  assert.equal(stepTokenLabel(''), 'end of answer');
  assert.equal(stepTokenLabel('\n'), 'end of answer (new line)');
  assert.equal(stepTokenLabel(' Kru'), '" Kru"');
  assert.equal(stepTokenChip(''), '⏹ end');
  assert.equal(stepTokenChip(' Kru'), ' Kru');
});

test('buildPrompt reports where the question is', () => {
  const needle = { id: 'n', needle: 'The code is 4.', question: 'What is the code?', real_needle: 'The code is 4.' };
  const b = buildPrompt('{context}\nQuestion: {question}\nAnswer:', 'Some text. More text.', 21, needle, 50);
  assert.equal(b.prompt.slice(b.questionChars[0], b.questionChars[1]), needle.question);
  assert.ok(b.questionChars[0] > b.needleChars[1]);
});

test('the legend labels min, threshold and max, and keeps labels apart', () => {
  const scores = [
    [0, 0.02, 0.178],
    [0.11, 0.05, 0],
  ];
  const labels = legendLabels(scores, 0.1);
  const byKind = Object.fromEntries(labels.filter((l) => l.kind !== 'tick').map((l) => [l.kind, l]));
  assert.equal(byKind.max.text, 'max 0.178');
  assert.equal(byKind.max.value, 0.178);
  assert.equal(byKind.min.text, 'min 0');
  assert.equal(byKind.threshold.text, '0.10 threshold');
  // no round tick crowds a labelled value
  const scale = scoreScale(scores, 0.1);
  for (const t of labels.filter((l) => l.kind === 'tick'))
    for (const k of Object.values(byKind)) assert.ok(Math.abs(t.value - k.value) >= scale.max * 0.1, `tick ${t.value} on ${k.kind}`);
  // sorted bottom to top
  assert.deepEqual(
    labels.map((l) => l.value),
    [...labels.map((l) => l.value)].sort((a, b) => a - b),
  );
  // llama-like: the top value stands as a number
  assert.equal(legendLabels([[0.943, 0.2]], 0.1).find((l) => l.kind === 'max')!.text, 'max 0.943');
  // spreadLabels: no two closer than the gap, order kept, far labels untouched
  const ys = spreadLabels([100, 104, 50, 300], 11);
  assert.deepEqual(ys, [100, 111, 50, 300]);
  assert.deepEqual(spreadLabels([10, 10, 10], 11), [10, 21, 32]);
});

test('the scatter axes end on round values with round ticks', () => {
  assert.deepEqual(niceAxis(0.943), { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] });
  assert.deepEqual(niceAxis(0.207), { max: 0.3, ticks: [0, 0.1, 0.2, 0.3] });
  assert.deepEqual(niceAxis(1), { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] });
  assert.deepEqual(niceAxis(3.2).ticks, [0, 1, 2, 3, 4]);
  assert.equal(niceAxis(0).max, 1);
  for (const m of [0.01, 0.07, 0.5, 0.943, 2.7, 40]) {
    const a = niceAxis(m);
    assert.ok(a.max >= m && a.ticks.length >= 3 && a.ticks.length <= 9, `${m}: ${JSON.stringify(a)}`);
  }
});

test('the score map fills the panel width within bounds', () => {
  // the organism (6 x 8) in a 600 px panel: far larger than the old fixed 230 px
  const c = cellSize(600, 900, 6, 8);
  assert.ok(c * 8 > 350, `cells of ${c} px`);
  assert.ok(cellSize(1600, 900, 6, 8) <= 64);
  // llama (32 x 32) in the same panel: small cells, never below 8
  assert.ok(cellSize(600, 900, 32, 32) >= 8);
  assert.ok(cellSize(600, 900, 32, 32) * 32 <= 600);
  assert.equal(cellSize(100, 100, 80, 128), 8);
});

function file(id: string): ScoresFile {
  const scores = [[0.2, 0]];
  return {
    format: 'retrieval-lens/scores@1',
    model: { id, layers: 1, heads: 2 },
    settings: { threshold: 0.1 },
    cases: [true, true, false, true].map((success) => ({
      length: 256,
      depth: 0,
      needleId: 'n',
      promptTokens: 200,
      span: [1, 5],
      success,
      rougeRecall: success ? 1 : 0,
      response: 'x',
      question: 'q?',
      scores,
    })),
    scores,
    retrievalHeads: [],
  } as unknown as ScoresFile;
}

test('model names are short, each name appears once in the Head explorer header, and no run leaves the welcome visible', () => {
  assert.equal(displayModelName('/tmp/x/extensions/retrieval-lens-0.1.0/models/needle-organism-2k'), 'needle-organism-2k');
  assert.equal(displayModelName('/models/qwen/'), 'qwen');
  assert.equal(displayModelName('C:\\models\\phi3'), 'phi3');
  assert.equal(displayModelName('hf:onnx-community/Qwen2.5-0.5B-Instruct'), 'onnx-community/Qwen2.5-0.5B-Instruct');
  assert.equal(displayModelName('llama-2-7b-80k.json'), 'llama-2-7b-80k.json');

  const none = treeHeader(null, false, 'needle-organism-2k');
  assert.equal(none.message, undefined, 'a message would hide the welcome buttons');
  assert.equal(none.description, 'needle-organism-2k');

  const run = toScoreMapView(file('/tmp/ext/models/needle-organism-2k'), 'coriolanus.txt · needle-organism-2k', 'run');
  assert.equal(run.modelName, 'needle-organism-2k');
  const h = treeHeader(run, true, 'x');
  assert.equal(h.description, 'needle-organism-2k: 1/2 retrieval heads (50.0%)');
  assert.equal(h.message, 'coriolanus.txt · 3/4 cases counted · retrieval heads only');
  assert.ok(!h.message!.includes('/tmp'), h.message);

  const opened = toScoreMapView(file('x.json'), 'x.json', 'file');
  const ho = treeHeader(opened, false, 'y');
  const all = `${ho.description} ${ho.message}`;
  assert.equal(all.split('x.json').length - 1, 1, `x.json twice: ${all}`);
});

test('comparing two models warns that their heads do not correspond', () => {
  assert.equal(compareWarning({ id: 'a' }, { id: 'a' }), null);
  const w2 = compareWarning({ id: 'llama-2-7b-80k.json' }, { id: '/m/Mistral-7B' });
  assert.match(w2!, /different models \(llama-2-7b-80k\.json vs Mistral-7B\)/);
  assert.match(w2!, /heads do not correspond/);
});

test('an ablation view carries both measures; older files have the ROUGE one only', () => {
  const f: AblationFile = {
    format: 'retrieval-lens/ablation@1',
    model: { id: 'm', layers: 6, heads: 8 },
    settings: {},
    baseline: 1,
    baselineExact: 0.94,
    results: [
      { k: 1, top: 0.9, random: [1, 1], topExact: 0.5, randomExact: [0.9, 0.7] },
      { k: 3, top: 0.63, random: [1, 0.9, 1], topExact: 0, randomExact: [0.17, 0.2, 0.11] },
    ],
  };
  const v = toAblationView(f, 'run');
  assert.equal(v.baselineExact, 0.94);
  assert.deepEqual(v.rows[1].exact, { top: 0, random: [0.17, 0.2, 0.11], mean: (0.17 + 0.2 + 0.11) / 3, min: 0.11, max: 0.2 });
  assert.equal(v.rows[0].mean, 1);
  const exact = ablationSeries(v, 'exact')!;
  assert.equal(exact.baseline, 0.94);
  assert.deepEqual(
    exact.rows.map((r) => r.top),
    [0.5, 0],
  );
  assert.deepEqual(
    ablationSeries(v, 'rouge')!.rows.map((r) => r.top),
    [0.9, 0.63],
  );
  const old = toAblationView(
    { ...f, baselineExact: undefined, results: f.results.map(({ topExact: _t, randomExact: _r, ...r }) => r) },
    'old',
  );
  assert.equal(old.baselineExact, null);
  assert.equal(old.rows[0].exact, null);
  assert.equal(ablationSeries(old, 'exact'), null);
});

test('a text longer than the context: the grid keeps what it can use and says how much it reads', () => {
  const p = planGrid(5000, 2048, [512, 1024, 1984], [0, 50, 100], 50);
  assert.deepEqual(p.lengths, [512, 1024, 1984]);
  assert.equal(p.usedTokens, 1984 - 64);
  assert.match(p.notes.at(-1)!, /the text has 5000 tokens; the longest context \(1984\) reads about the first 1920/);
  const fits = planGrid(3000, 4096, [512, 1024], [0], 50);
  assert.equal(fits.usedTokens, 1024 - 64);
  assert.equal(planGrid(400, 2048, [256], [0], 50).usedTokens, 192);
  assert.equal(planGrid(100, 2048, [256, 512], [0], 50).usedTokens, 100);
});

test('the store: quiet work is its own flag, and highlights carry the question span', () => {
  const store = new Store();
  const events: string[] = [];
  store.onChange((e) => events.push([...e].join(',')));
  store.setBackground('Needle highlights');
  assert.equal(store.panelState().background, 'Needle highlights');
  assert.equal(store.panelState().busy, null);
  store.setBackground(null);
  assert.equal(store.panelState().background, null);
  assert.deepEqual(events, ['busy', 'busy']);

  const run = store.setRun(file('m'), 'doc · m', 'run', { uri: 'u', version: 1, rangeStart: 0, rangeEnd: 1, eol: normalizeEol('x') }, 'm');
  store.select({ layer: 0, head: 0 });
  const data = {
    tokens: [
      { text: 'a', start: 0, end: 1 },
      { text: 'b', start: 1, end: 2 },
    ],
    needleSpan: [0, 1],
    questionSpan: [1, 2],
    steps: [{ token: 1, text: '', top: [{ pos: Int32Array.from([1]), w: Float32Array.from([1]) }] }],
    heads: 2,
    question: 'q',
    answer: 'a',
  } as unknown as InspectResponse;
  store.setInspect({ data, doc: run.doc!, modelSpec: 'm' });
  const hv = store.panelState().highlight!;
  assert.deepEqual(hv.questionSpan, [1, 2]);
  assert.equal(whereIs(hv.attention[0].pos[0], hv.needleSpan, hv.questionSpan), 'question');
});
