// Issue 4: "Open scores file" with the paper's published head_score JSON (a 32 x 32 map with the
// 12 always-active heads marked), an invalid file (a clear error, the previous map kept, the next
// command works), and comparing two published files (issue 5's "Compare runs").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

const sc = h.scenario('scores-file');
let s;
const page = () => s.page;
const wv = () => h.webview(page());
const published = (name) => path.join(h.env.shared, 'published-scores', name);
const llama = published('llama-2-7b-80k.json');
const mistral = published('Mistral-7B-v0.2-hf.json');

before(async () => {
  s = await h.launch();
  await h.openWorkspace(s.page);
});
after(async () => {
  await s?.browser.close();
});

test(
  "the paper's llama-2-7b-80k head_score file opens as a 32 x 32 map with the 12 always-active heads marked",
  sc.step(page, 'published', async (t) => {
    if (!existsSync(llama)) return t.skip(`${llama} not found (../shared beside the repository)`);
    await h.runCommand(page(), 'Retrieval Lens: Open scores file');
    await h.answerFileDialog(page(), llama);
    const map = await h.waitForScoreMap(page());
    assert.equal(map.layers, 32);
    assert.equal(map.heads, 32);
    assert.match(map.summary, /llama-2-7b-80k\.json/);
    assert.match(map.summary, /12 always active/);
    const cells = await h.scoreMapCells(page());
    assert.equal(Object.keys(cells).length, 1024);
    // The paper's top heads (PROVENANCE.md): 16-19 scores 0.943, 11-15 0.920.
    assert.equal(cells['16-19'].score.toFixed(3), '0.943');
    assert.equal(cells['11-15'].score.toFixed(3), '0.920');
    const top = Object.values(cells).sort((a, b) => b.score - a.score)[0];
    assert.equal(top.id, '16-19');
    // Always-active heads carry a dot (an SVG circle) in their cell.
    const dotted = await wv().locator('[data-testid="score-map"] g.cell:has(circle)').count();
    assert.equal(dotted, 12);
    assert.equal(Object.values(cells).filter((c) => c.retrieval).length, map.retrieval);
    // The legend's top value as a number: 0.943 here, where the organism's map tops out near 0.2.
    assert.equal((await wv().locator('[data-testid="legend-label-max"]').textContent()).trim(), 'max 0.943');
    await sc.shot(page(), 'llama-map');

    await h.openViewContainer(page(), 'Retrieval Lens');
    await h.assertEventually(async () => assert.equal((await h.layerRows(page())).length > 0, true), h.MEDIUM);
    const heads = await h.headRows(page());
    for (const r of heads) assert.equal(r.description, cells[r.id].score.toFixed(3), `head ${r.id}`);
    await sc.shot(page(), 'llama-tree');
  }),
);

test(
  'an invalid scores file gives a clear error, keeps the current map, and the next command works',
  sc.step(page, 'invalid', async () => {
    const before = await h.waitForScoreMap(page()).catch(() => null);
    await h.runCommand(page(), 'Retrieval Lens: Open scores file');
    await h.answerFileDialog(page(), path.join(h.env.workspace, 'not-scores.json'));
    const toast = await h.waitForNotification(page(), /not-scores\.json is not a valid scores file/, h.MEDIUM);
    assert.ok(await toast.locator('.codicon-error').count(), 'the invalid-file notification is not an error');
    await sc.shot(page(), 'invalid-file-error');
    if (before) assert.deepEqual(await h.waitForScoreMap(page()), before);
    assert.equal(
      await wv()
        .locator('#app')
        .getAttribute('data-busy')
        .catch(() => 'false'),
      'false',
    );
    if (existsSync(mistral)) {
      await h.runCommand(page(), 'Retrieval Lens: Open scores file');
      await h.answerFileDialog(page(), mistral);
      await h.assertEventually(async () => assert.match((await h.waitForScoreMap(page())).summary, /Mistral-7B-v0\.2-hf\.json/), h.MEDIUM);
      await sc.shot(page(), 'next-file-opens');
    }
  }),
);

test(
  'Compare runs puts two published files side by side with their correlation and top-k overlap',
  sc.step(page, 'compare', async (t) => {
    if (!existsSync(llama) || !existsSync(mistral)) return t.skip('published score files not found');
    await h.runCommand(page(), 'Retrieval Lens: Compare runs');
    // Both files were opened above, so they are runs to pick from.
    await h.pickQuickItem(page(), 'llama-2-7b-80k.json');
    await h.pickQuickItem(page(), 'Mistral-7B-v0.2-hf.json');
    const pearson = wv().locator('[data-testid="compare-pearson"]');
    await pearson.waitFor({ timeout: h.MEDIUM });
    const r = Number(await pearson.getAttribute('data-value'));
    assert.ok(Number.isFinite(r) && r > -1 && r < 1, `Pearson r = ${r}`);
    assert.ok((await wv().locator('[data-testid="compare-overlap"] tr[data-testid^="overlap-"]').count()) > 0, 'no top-k overlap rows');
    await wv().locator('[data-testid="compare-scatter"]').waitFor();
    // Two different models: head 16-19 of one is not head 16-19 of the other.
    assert.match(await wv().locator('[data-testid="compare-warning"]').innerText(), /different models.*heads do not correspond/);
    assert.ok((await wv().locator('[data-testid="scatter-ytick"]').count()) >= 3, 'the scatter has no y-axis ticks');
    await wv().locator('[data-testid="scatter-diagonal"]').waitFor({ state: 'attached' });
    await sc.shot(page(), 'compare');
  }),
);
