// The default grid on an ordinary document of about 2,000 tokens: "Find retrieval heads for this
// context" on the whole of romeo.txt (no selection, 1,968 tokens) with the settings' default
// lengths and depths. Every length of the default grid runs (none skipped for the model's context
// or the text's length) and retrieves needles, and the panel's NIAH table shows them all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as h from './helpers.mjs';

const sc = h.scenario('detect-2k');
let s;
let run;
const page = () => s.page;
const wv = () => h.webview(page());

// The grid a user gets without touching the settings: package.json's contributed defaults.
const props = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).contributes.configuration.properties;
const LENGTHS = [...props['retrievalLens.lengths'].default].sort((a, b) => a - b);
const DEPTHS = [...props['retrievalLens.depths'].default].sort((a, b) => a - b);

before(async () => {
  // Another scenario may have left a grid in the workspace settings.
  h.setWorkspaceSettings({ 'retrievalLens.lengths': undefined, 'retrievalLens.depths': undefined });
  s = await h.launch();
  await h.openWorkspace(s.page);
});
after(async () => {
  await s?.browser.close();
});

test(
  'a detection on the whole of a 2,000-token document runs the default grid',
  sc.step(page, 'run', async () => {
    const editor = await h.openFileFromExplorer(page(), 'romeo.txt');
    await h.focusEditor(editor);
    assert.doesNotMatch(await h.selectionStatus(page()), /selected/, 'the whole document is the haystack: nothing may be selected');
    await sc.shot(page(), 'document');
    // Right-click on the text itself (where focusEditor put the cursor): with nothing selected the
    // helper's fallback spot is the line-number gutter, which has no editor context menu.
    const box = await editor.boundingBox();
    await page().mouse.click(box.x + Math.min(160, box.width / 2), box.y + 12, { button: 'right' });
    await page().locator('.monaco-menu').first().waitFor({ state: 'visible' });
    await sc.shot(page(), 'context-menu');
    await h.clickContextMenuItem(page(), h.FIND);
    assert.doesNotMatch(await h.selectionStatus(page()), /selected/, 'the right-click selected text');
    await h.waitForNotification(page(), /\d+\/\d+ cases/, h.LONG);
    await sc.shot(page(), 'progress');
    // The map fills in as cases finish: it is on screen, marked as running, before the grid ends.
    const early = await h.waitForScoreMap(page(), h.LONG);
    assert.match(early.summary, /running, \d+\/\d+ cases/, `no map while the grid runs: ${early.summary}`);
    await sc.shot(page(), 'map-while-running');
    run = await h.waitForRunDone(page(), 2 * h.LONG);
    console.log(`default grid ${LENGTHS.join('/')} x ${DEPTHS.join('/')}: ${run.text}`);
    // Every (length, depth) cell ran the same number of needles: no length was dropped.
    assert.equal(
      run.cases % (LENGTHS.length * DEPTHS.length),
      0,
      `${run.cases} cases is not a whole number of needles per cell of ${LENGTHS.length} x ${DEPTHS.length}`,
    );
    assert.ok(run.counted > 0, run.text);
  }),
);

test(
  "the panel's NIAH table has every length of the default grid, each with needles retrieved",
  sc.step(page, 'accuracy', async () => {
    await h.waitForScoreMap(page());
    const table = wv().locator('[data-testid="accuracy-table"]');
    await table.waitFor({ timeout: h.MEDIUM });
    const lengths = (await table.locator('tbody tr > th').allInnerTexts()).map(Number);
    assert.deepEqual(lengths, LENGTHS, `the run's lengths ${lengths.join(', ')} are not the default grid ${LENGTHS.join(', ')}`);
    const rows = [];
    for (const len of LENGTHS) {
      const values = [];
      for (const d of DEPTHS) {
        const v = await table.locator(`[data-testid="acc-${len}-${d}"]`).getAttribute('data-value');
        assert.ok(v !== null && v !== '', `no accuracy for length ${len}, depth ${d}%`);
        assert.ok(Number(v) >= 0 && Number(v) <= 1, `accuracy ${v} at length ${len}, depth ${d}%`);
        values.push(Number(v));
      }
      rows.push(`${len}: ${values.map((v) => v.toFixed(2)).join(' ')}`);
      assert.ok(
        values.some((v) => v > 0),
        `no case at length ${len} retrieved the needle: ${values.join(' ')}`,
      );
    }
    console.log(`NIAH accuracy by length (depths ${DEPTHS.join('/')}): ${rows.join('; ')}`);
    await table.scrollIntoViewIfNeeded();
    await sc.shot(page(), 'accuracy-by-length');
  }),
);
