// Issues 13 and 14 in the extension: a detection by another method (QRHead) named on its map, the
// agreement view of two methods' scores (Kendall, top-k overlap, disagreements, KV level with its
// aggregation), the KV what-if tab, DeCoRe beside the base and masked answers, and "Where did this
// answer come from?" on a CRLF document with multi-byte text, its value tokens traced to the needle.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as h from './helpers.mjs';

const sc = h.scenario('heads-at-work');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NEEDLE = "Zorvak's secret code is 48213.";
let s;
let editor;
const page = () => s.page;
const wv = () => h.webview(page());

/** The README's attribution example, saved with CRLF line ends behind a line of accents, CJK and an emoji. */
function writeNeedleDoc() {
  const text = readFileSync(path.join(root, 'data', 'haystack', 'shakespeare.txt'), 'utf8')
    .replace(/\r\n/g, '\n')
    .slice(0, 3000);
  const at = text.indexOf('. ', 1500) + 2;
  const body = `Préface — 日本語のテキスト 😀 naïve café\n${text.slice(0, at)}${NEEDLE} ${text.slice(at)}`;
  writeFileSync(path.join(h.env.workspace, 'needle-doc.txt'), body.replace(/\n/g, '\r\n'));
}

/**
 * A DuoAttention full_attention_heads.tsv for the organism (6 layers x 4 KV heads): full attention
 * for the KV heads that hold its retrieval heads 5-0, 5-4, 5-5 (KV heads 5:0 and 5:2), low gates elsewhere.
 */
function writeDuoTsv() {
  const rows = Array.from({ length: 6 }, (_, l) =>
    Array.from({ length: 4 }, (_, k) => (l === 5 && (k === 0 || k === 2) ? 1 : ((l * 4 + k) % 7) / 20)),
  );
  writeFileSync(path.join(h.env.workspace, 'full_attention_heads.tsv'), rows.map((r) => r.join('\t')).join('\n') + '\n');
}

before(async () => {
  // A small grid: two lengths, two depths (the three methods and the what-if run on it).
  h.setWorkspaceSettings({ 'retrievalLens.lengths': [512, 1024], 'retrievalLens.depths': [30, 70] });
  writeNeedleDoc();
  writeDuoTsv();
  s = await h.launch();
  await h.openWorkspace(s.page);
  editor = await h.openFileFromExplorer(s.page, 'coriolanus.txt');
  await h.selectLines(s.page, editor, 60);
});
after(async () => {
  h.setWorkspaceSettings({ 'retrievalLens.lengths': undefined, 'retrievalLens.depths': undefined });
  await s?.browser.close();
});

async function origin() {
  return wv().locator('[data-testid="map-origin"]').getAttribute('data-origin');
}

/** Picks the quick pick row whose label (not its description or detail) is exactly `label`. */
async function pickExact(label) {
  const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  // Matched when clicked, not beforehand: the list may still be changing when the pick opens.
  const row = h
    .quickInput(page())
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page().locator('.label-name', { hasText: exact }) })
    .first();
  await row.waitFor({ timeout: h.MEDIUM });
  await row.click();
}

test(
  'a QRHead detection and a paper detection each say on the map which method made them',
  sc.step(page, 'methods', async () => {
    await h.runCommand(page(), 'Retrieval Lens: Find retrieval heads with method…');
    await pickExact('qrhead');
    await h.waitForRunDone(page());
    await h.waitForScoreMap(page());
    await h.assertEventually(async () => assert.equal(await origin(), 'method qrhead'), h.MEDIUM);
    await h.dismissNotifications(page());
    await h.selectLines(page(), editor, 60);
    await h.runCommand(page(), 'Retrieval Lens: Find retrieval heads for this context');
    const run = await h.waitForRunDone(page());
    assert.ok(run.retrieval >= 1, run.text);
    await h.assertEventually(async () => assert.equal(await origin(), 'method paper'), h.MEDIUM);
    await sc.shot(page(), 'paper-map-origin');
  }),
);

test(
  'the agreement view compares the two methods: Kendall, top-5/10/20 overlap, scatter, disagreements, KV level named',
  sc.step(page, 'agreement', async () => {
    await h.dismissNotifications(page());
    await wv().locator('[data-testid="btn-compare"]').click();
    await pickExact('coriolanus.txt · needle-organism-2k');
    await pickExact('coriolanus.txt · needle-organism-2k · qrhead');
    const summary = wv().locator('[data-testid="compare-summary"]');
    await summary.waitFor({ timeout: h.MEDIUM });
    const text = await summary.innerText();
    assert.match(text, /A: .*vs B: /s);
    assert.ok(text.includes('(method paper)') && text.includes('(method qrhead)'), text);
    const kendall = Number(await wv().locator('[data-testid="compare-kendall"]').getAttribute('data-value'));
    const spearman = Number(await wv().locator('[data-testid="compare-spearman"]').getAttribute('data-value'));
    assert.ok(kendall > -1 && kendall <= 1 && Math.abs(kendall) <= Math.abs(spearman) + 1e-9, `kendall ${kendall}, spearman ${spearman}`);
    for (const k of [5, 10, 20]) await wv().locator(`[data-testid="overlap-${k}"]`).waitFor();
    assert.equal(await wv().locator('[data-testid="compare-scatter"] circle').count(), 48);
    const dis = wv().locator('[data-testid="compare-disagreements"]');
    const n = Number(await dis.getAttribute('data-count'));
    assert.equal(await dis.locator('tr[data-testid^="disagree-"]').count(), n);
    await sc.shot(page(), 'agreement-query');
    // KV level: the organism's 8 query heads share 4 KV heads, so 6 x 4 points, aggregation named.
    await wv()
      .locator('[data-testid="compare-level"]')
      .evaluate((el) => {
        el.value = 'kv-max';
        el.dispatchEvent(new Event('change'));
      });
    const label = wv().locator('[data-testid="compare-level-label"]');
    await h.assertEventually(async () => assert.equal(await label.getAttribute('data-level'), 'kv'), h.SHORT);
    assert.equal(await label.getAttribute('data-aggregation'), 'max');
    assert.match(await label.innerText(), /aggregation: max/);
    assert.equal(await wv().locator('[data-testid="compare-scatter"] circle').count(), 24);
    await sc.shot(page(), 'agreement-kv');
  }),
);

test(
  "a DuoAttention TSV is compared at KV level (its own level), its full-attention KV heads among the run's top",
  sc.step(page, 'agreement-duo', async () => {
    await wv().locator('[data-testid="btn-compare"]').click();
    await pickExact('coriolanus.txt · needle-organism-2k');
    await pickExact('Open a scores file…');
    await h.answerFileDialog(page(), path.join(h.env.workspace, 'full_attention_heads.tsv'));
    const summary = wv().locator('[data-testid="compare-summary"]');
    await h.assertEventually(async () => assert.match(await summary.innerText(), /DuoAttention/), h.MEDIUM);
    const label = wv().locator('[data-testid="compare-level-label"]');
    assert.equal(await label.getAttribute('data-level'), 'kv');
    assert.equal(await label.getAttribute('data-aggregation'), 'max');
    assert.equal(await wv().locator('[data-testid="compare-scatter"] circle').count(), 24);
    const top5 = await wv().locator('[data-testid="overlap-5"] td').nth(1).innerText();
    assert.ok(Number(top5) >= 2, `shared top-5 KV heads: ${top5}`);
    await sc.shot(page(), 'agreement-duo-tsv');
  }),
);

test(
  'KV what-if: keeping the retrieval heads whole keeps exact answers that as many random KV heads lose',
  sc.step(page, 'kvwhatif', async () => {
    await h.runCommand(page(), 'Retrieval Lens: KV what-if…');
    await pickExact('1, 2, 4, 8');
    await pickExact('64');
    const plot = wv().locator('[data-testid="kvwhatif-plot"]');
    await plot.waitFor({ timeout: h.LONG });
    const points = async (keep) =>
      Object.fromEntries(
        await wv()
          .locator(`[data-testid="kv-point-${keep}"]`)
          .evaluateAll((els) =>
            els.map((e) => [e.getAttribute('data-k'), [Number(e.getAttribute('data-value')), Number(e.getAttribute('data-fraction'))]]),
          ),
      );
    const top = await points('retrieval');
    const rnd = await points('random');
    assert.deepEqual(Object.keys(top).sort(), ['1', '2', '4', '8']);
    const full = Number(await wv().locator('[data-testid="kv-full-cache"]').getAttribute('data-value'));
    assert.ok(full >= 0.5, `whole cache exact ${full}`);
    // The organism's three retrieval heads sit in two KV heads: from k = 2 on they are all kept.
    assert.ok(top['2'][1] > 0 && top['2'][1] < 0.5, `KV fraction at k=2: ${top['2'][1]}`);
    assert.ok(top['2'][0] > rnd['2'][0], `k=2: retrieval-kept ${top['2'][0]} vs random-kept ${rnd['2'][0]}`);
    for (const k of Object.keys(top)) assert.ok(top[k][0] >= rnd[k][0], `k=${k}: ${top[k][0]} < ${rnd[k][0]}`);
    // Export JSON writes the kv-whatif file.
    const jsonFile = path.join(h.env.workspace, 'kv-whatif.json');
    await wv().locator('[data-testid="btn-kvwhatif-json"]').click();
    await h.answerFileDialog(page(), jsonFile);
    await h.assertEventually(() => assert.ok(existsSync(jsonFile), `${jsonFile} not written`), h.MEDIUM);
    const file = JSON.parse(readFileSync(jsonFile, 'utf8'));
    assert.equal(file.format, 'retrieval-lens/kv-whatif@1');
    assert.deepEqual(file.settings.ks, [1, 2, 4, 8]);
    assert.equal(file.settings.window, 64);
    assert.equal(file.baseline.exact, full);
    await sc.shot(page(), 'kvwhatif');
  }),
);

test(
  'DeCoRe in "Mask and re-generate": base, masked and DeCoRe answers side by side',
  sc.step(page, 'decore', async () => {
    await h.dismissNotifications(page());
    await h.runCommand(page(), 'Retrieval Lens: Mask all retrieval heads');
    await wv().locator('[data-testid="tab-highlights"]').click();
    const toggle = wv().locator('[data-testid="decore-toggle"]');
    await toggle.click();
    await h.assertEventually(async () => assert.equal(await toggle.evaluate((e) => e.checked), true), h.SHORT);
    await wv().locator('[data-testid="btn-regenerate"]').click();
    let answers;
    await h.assertEventually(
      async () => {
        assert.equal(await wv().locator('#app').getAttribute('data-busy'), 'false');
        const get = (id) => wv().locator(`[data-testid="${id}"]`).getAttribute('data-text');
        answers = { plain: await get('answer-plain'), masked: await get('answer-masked'), decore: await get('answer-decore') };
        assert.ok(answers.plain && answers.masked && answers.decore, JSON.stringify(answers));
      },
      h.LONG,
      500,
    );
    const boxes = [];
    for (const id of ['answer-plain', 'answer-masked', 'answer-decore'])
      boxes.push(await h.assertOnScreen(page(), wv().locator(`[data-testid="${id}"]`), id));
    assert.ok(Math.abs(boxes[0].y - boxes[2].y) < 2 && boxes[2].x > boxes[1].x, 'the three answers are not side by side');
    await sc.shot(page(), 'decore');
    await h.runCommand(page(), 'Retrieval Lens: Clear masks');
  }),
);

test(
  'Where did this answer come from? The value tokens come from the needle sentence, highlighted in the editor (CRLF, multi-byte)',
  sc.step(page, 'attribution', async () => {
    await h.dismissNotifications(page());
    // Opened in the editor group beside the panel, as a user reads a document next to it.
    await h.focusEditor(editor);
    const doc = await h.openFileFromExplorer(page(), 'needle-doc.txt');
    await h.focusEditor(doc);
    await h.runCommand(page(), 'Retrieval Lens: Where did this answer come from?');
    const input = h.quickInput(page()).locator('.quick-input-box input');
    await input.fill("What is Zorvak's secret code?");
    await input.press('Enter');
    const answer = wv().locator('[data-testid="attribution-answer"]');
    await answer.waitFor({ timeout: h.LONG });
    assert.match(await answer.getAttribute('data-text'), /48213/);
    const g = wv().locator('[data-testid="grounding"]');
    assert.ok(Number(await g.getAttribute('data-score')) > 0);
    // The first digit of the value: its top source is the needle sentence.
    const tokens = await answer.locator('[data-testid^="attr-token-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-text')));
    const i = tokens.findIndex((t) => /4/.test(t));
    assert.ok(i >= 0, `no value token in ${JSON.stringify(tokens)}`);
    await answer.locator(`[data-testid="attr-token-${i}"]`).click();
    const sources = wv().locator('[data-testid="attribution-sources"]');
    await h.assertEventually(async () => assert.equal(await sources.getAttribute('data-for'), String(i)), h.SHORT);
    assert.equal((await sources.locator('li q').first().innerText()).trim(), NEEDLE);
    // The editor marks the token's top source where the needle sentence starts.
    await h.assertEventually(async () => {
      const marks = await doc
        .locator('.view-lines span')
        .evaluateAll((els) => els.map((e) => getComputedStyle(e, '::before').content).filter((c) => c && c.includes('source of token')));
      assert.ok(marks.length, 'no source marker in the editor');
      const line = await doc.locator('.view-line', { hasText: 'Zorvak' }).innerText();
      assert.ok(line.replace(/\u00a0/g, ' ').includes(NEEDLE), line);
    }, h.MEDIUM);
    await sc.shot(page(), 'attribution');
  }),
);
