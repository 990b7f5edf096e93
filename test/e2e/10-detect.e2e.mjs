// Issue 4, the main path: select text, "Find retrieval heads for this context" from the editor
// context menu, the score map in the panel, the Head explorer agreeing with it, head selection
// both ways, the panel re-shown with its state, figure and score exports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

const sc = h.scenario('detect');
let s;
let editor;
let run; // the completion message's numbers
const page = () => s.page;
const wv = () => h.webview(page());

before(async () => {
  s = await h.launch();
  await h.openWorkspace(s.page);
});
after(async () => {
  await s?.browser.close();
});

test(
  'select text and run "Find retrieval heads for this context" from the editor context menu',
  sc.step(page, 'run', async () => {
    editor = await h.openFileFromExplorer(page(), 'coriolanus.txt');
    await h.selectLines(page(), editor, 60);
    assert.match(await h.selectionStatus(page()), /selected/);
    await sc.shot(page(), 'selection');
    const menu = await h.openEditorContextMenu(page(), editor);
    await menu.locator('.action-label', { hasText: h.FIND }).first().waitFor();
    await sc.shot(page(), 'context-menu');
    await h.clickContextMenuItem(page(), h.FIND);
    // The run reports progress in a notification with a Cancel button.
    const progress = await h.waitForNotification(page(), /Find retrieval heads/, h.MEDIUM);
    await h.waitForNotification(page(), /\d+\/\d+ cases/, h.LONG);
    assert.ok(await progress.locator('.monaco-button', { hasText: 'Cancel' }).count(), 'the progress notification has no Cancel button');
    await sc.shot(page(), 'progress');
    run = await h.waitForRunDone(page());
    assert.ok(run.cases > 0 && run.total > 0, run.text);
  }),
);

test(
  "the panel shows the layers x heads score map with a legend, the threshold and the run's accuracy",
  sc.step(page, 'score-map', async () => {
    const map = await h.waitForScoreMap(page());
    assert.equal(map.layers * map.heads, run.total);
    assert.equal(map.retrieval, run.retrieval);
    const cells = await h.scoreMapCells(page());
    assert.equal(Object.keys(cells).length, run.total);
    assert.equal(Object.values(cells).filter((c) => c.retrieval).length, run.retrieval);
    for (const c of Object.values(cells)) assert.equal(c.retrieval, c.score >= run.threshold, `cell ${c.id}`);
    // A horizontal SVG line has no height, so Playwright never calls it visible: attached is enough.
    await wv().locator('[data-testid="legend-threshold"]').waitFor({ state: 'attached' });
    const acc = wv().locator('[data-testid="accuracy-table"] td[data-value]');
    assert.ok((await acc.count()) > 0, 'no NIAH accuracy cells');
    // The legend labels the lowest score, the threshold and the highest score as numbers.
    const top = Math.max(...Object.values(cells).map((c) => c.score));
    assert.equal((await wv().locator('[data-testid="legend-label-max"]').textContent()).trim(), `max ${top.toFixed(3)}`);
    assert.match(await wv().locator('[data-testid="legend-label-min"]').textContent(), /^min \d/);
    assert.match(
      await wv().locator('[data-testid="legend-label-threshold"]').textContent(),
      new RegExp(`^${run.threshold.toFixed(2)} threshold`),
    );
    // The map fills the panel's width, and the legend's max is on screen without scrolling.
    const frame = await page().locator('iframe.webview.ready').first().boundingBox();
    const mapBox = await wv().locator('[data-testid="score-map"]').boundingBox();
    assert.ok(mapBox.width >= 0.75 * frame.width, `map ${mapBox.width} px wide in a ${frame.width} px panel`);
    const maxBox = await wv().locator('[data-testid="legend-label-max"]').boundingBox();
    assert.ok(maxBox.y >= frame.y && maxBox.y + maxBox.height <= frame.y + frame.height, 'the legend max is below the fold');
    // One toolbar row, inside the panel.
    const bar = await wv()
      .locator('[data-testid="toolbar"] vscode-button')
      .evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect()).map((r) => ({ top: r.top, right: r.right })));
    assert.ok(
      bar.every((b) => Math.abs(b.top - bar[0].top) < 2),
      `the toolbar wraps: ${JSON.stringify(bar)}`,
    );
    assert.ok(bar.at(-1).right <= frame.width, `the toolbar's last button is cut off: ${JSON.stringify(bar)}`);
    // The quiet highlights run after a detection shows in the status line: the tabs do not move
    // and the buttons stay enabled.
    const app = wv().locator('#app');
    const tabsY = async () => (await wv().locator('[data-testid="tabs"]').boundingBox()).y;
    const y0 = await tabsY();
    // One read of both: the background run may end between two reads (one render sets both).
    const [background, status] = await app.evaluate((el) => [
      el.getAttribute('data-background'),
      el.querySelector('[data-testid="status-text"]')?.textContent ?? '',
    ]);
    if (background === 'true') {
      assert.match(status, /in the background/);
      assert.equal(
        await wv().locator('[data-testid="btn-run-ablation"]').getAttribute('disabled'),
        null,
        'background work greys Run ablation',
      );
      assert.equal(await wv().locator('[data-testid="btn-find"]').getAttribute('disabled'), null, 'background work greys Find');
      await sc.shot(page(), 'background-highlights');
    }
    await h.assertEventually(async () => assert.equal(await app.getAttribute('data-background'), 'false'), h.LONG);
    assert.equal(await tabsY(), y0, 'the tabs moved when the background work ended');
    await sc.shot(page(), 'score-map');
  }),
);

test(
  'the Head explorer lists layers and heads with scores that agree with the panel',
  sc.step(page, 'tree', async () => {
    await h.openViewContainer(page(), 'Retrieval Lens');
    const cells = await h.scoreMapCells(page());
    await h.assertEventually(async () => assert.ok((await h.headRows(page())).length > 0, 'no head rows yet'), h.MEDIUM);
    const layers = await h.layerRows(page());
    const map = await h.waitForScoreMap(page());
    assert.equal(layers.length, map.layers);
    assert.equal(
      layers.reduce((n, l) => n + l.retrievalCount, 0),
      run.retrieval,
      "retrieval heads per layer do not add up to the run's count",
    );
    const heads = await h.headRows(page());
    for (const r of heads) {
      const c = cells[r.id];
      assert.ok(c, `tree head ${r.id} is not on the map`);
      assert.equal(r.description, c.score.toFixed(3), `score of head ${r.id}: tree ${r.description}, panel ${c.score}`);
      assert.equal(r.retrievalHead, c.retrieval, `retrieval flag of head ${r.id}`);
    }
    // Heads within a layer are sorted by score.
    for (const l of new Set(heads.map((r) => r.layer))) {
      const sc_ = heads.filter((r) => r.layer === l).map((r) => r.score);
      assert.deepEqual(
        sc_,
        [...sc_].sort((a, b) => b - a),
        `layer ${l} heads not sorted by score`,
      );
    }
    const header = await h.headExplorer(page()).locator('.pane-header').getAttribute('aria-label');
    assert.match(header, new RegExp(`${run.retrieval}/${run.total} retrieval heads`));
    // The model by its name, not its (temporary) folder path; no name twice.
    assert.match(header, /needle-organism-2k/);
    const paneText = await h.headExplorer(page()).innerText();
    assert.doesNotMatch(`${header}\n${paneText}`, /\/tmp\/|extensions\//, `a path in the Head explorer: ${header} ${paneText}`);
    assert.ok(paneText.split('needle-organism-2k').length - 1 <= 1, `the model named twice: ${paneText}`);
    await sc.shot(page(), 'tree');

    await h.headExplorerAction(page(), 'Show retrieval heads only');
    await h.assertEventually(async () => {
      const only = await h.headRows(page());
      assert.equal(only.length, run.retrieval);
      assert.ok(only.every((r) => r.retrievalHead));
    }, h.MEDIUM);
    await sc.shot(page(), 'tree-retrieval-only');
    await h.headExplorerAction(page(), 'Show all heads');
    await h.assertEventually(async () => assert.ok((await h.headRows(page())).length > run.retrieval), h.MEDIUM);
  }),
);

test(
  'a head selected in the tree is selected in the panel, and a cell clicked in the panel is revealed in the tree',
  sc.step(page, 'selection-sync', async () => {
    const heads = await h.headRows(page());
    const first = heads[0];
    await h.headExplorer(page()).locator(`.monaco-list-row[aria-label^="Layer ${first.layer} head ${first.head},"]`).click();
    await h.assertEventually(async () => {
      assert.equal(
        (await wv().locator('[data-testid="selected-head-label"]').innerText()).trim(),
        `Layer ${first.layer}, head ${first.head}`,
      );
      assert.match(
        await wv().locator('[data-testid="selected-head-score"]').innerText(),
        new RegExp(`score ${first.description.replace('.', '\\.')}`),
      );
      assert.equal(await wv().locator(`[data-testid="cell-${first.id}"]`).getAttribute('data-selected'), 'true');
    }, h.MEDIUM);
    await sc.shot(page(), 'tree-selects-cell');

    const other = heads.find((r) => r.id !== first.id && r.layer === first.layer) ?? heads[1];
    // Corner of the cell: always-active heads carry a dot in the middle.
    await wv()
      .locator(`[data-testid="cell-${other.id}"] rect`)
      .first()
      .click({ position: { x: 4, y: 4 } });
    await h.assertEventually(async () => {
      const rows = await h.headRows(page());
      const sel = rows.filter((r) => r.selected).map((r) => r.id);
      assert.deepEqual(sel, [other.id], `tree selection is ${sel.join(', ')}`);
    }, h.MEDIUM);
    assert.equal(
      (await wv().locator('[data-testid="selected-head-label"]').innerText()).trim(),
      `Layer ${other.layer}, head ${other.head}`,
    );
    await sc.shot(page(), 'cell-reveals-tree');
  }),
);

test(
  'the panel keeps its state when closed and shown again',
  sc.step(page, 'reshow', async () => {
    const before = await h.waitForScoreMap(page());
    const selected = await wv().locator('[data-testid="selected-head-label"]').innerText();
    const tab = page().locator('.tabs-container .tab', { hasText: 'Retrieval Lens' }).first();
    await tab.hover();
    await tab.locator('.tab-actions .action-label').click();
    await page().locator('iframe.webview.ready').first().waitFor({ state: 'detached', timeout: h.MEDIUM });
    await h.runCommand(page(), 'Retrieval Lens: Show panel');
    const after = await h.waitForScoreMap(page());
    assert.deepEqual(after, before);
    assert.equal(await wv().locator('[data-testid="selected-head-label"]').innerText(), selected);
    await sc.shot(page(), 'reshown');
  }),
);

test(
  'the score map exports as SVG (panel button) and PNG (palette)',
  sc.step(page, 'export-figure', async () => {
    const svgFile = path.join(h.env.workspace, 'score-map.svg');
    await wv().locator('[data-testid="btn-export-svg"]').click();
    await h.answerFileDialog(page(), svgFile);
    await h.waitForNotification(page(), /figure written to/, h.MEDIUM);
    await h.assertEventually(() => assert.ok(existsSync(svgFile), `${svgFile} not written`));
    const svg = readFileSync(svgFile, 'utf8');
    assert.match(svg, /<svg[^>]*data-testid="score-map"/);
    assert.equal((svg.match(/class="cell"/g) ?? []).length, run.total);

    const pngFile = path.join(h.env.workspace, 'score-map.png');
    await h.runCommand(page(), 'Retrieval Lens: Export figure');
    await h.pickQuickItem(page(), 'Score map (PNG)');
    await h.answerFileDialog(page(), pngFile);
    await h.waitForNotification(page(), /score-map\.png/, h.MEDIUM);
    await h.assertEventually(() => assert.ok(existsSync(pngFile), `${pngFile} not written`));
    const png = readFileSync(pngFile);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
    assert.ok(png.length > 2000, `PNG is only ${png.length} bytes`);
    await sc.shot(page(), 'figure-exported');
  }),
);

test(
  "the scores export as CSV and in the paper's head_score JSON format",
  sc.step(page, 'export-scores', async () => {
    const cells = await h.scoreMapCells(page());
    const csvFile = path.join(h.env.workspace, 'scores.csv');
    await h.runCommand(page(), 'Retrieval Lens: Export scores');
    await h.pickQuickItem(page(), 'CSV');
    await h.answerFileDialog(page(), csvFile);
    await h.waitForNotification(page(), /scores\.csv/, h.MEDIUM);
    const lines = readFileSync(csvFile, 'utf8').trim().split(/\r?\n/);
    assert.match(lines[0], /layer,head,score/);
    assert.equal(lines.length - 1, run.total);
    for (const line of lines.slice(1)) {
      const [l, hd, score] = line.split(',');
      assert.equal(Number(score).toFixed(3), cells[`${l}-${hd}`].score.toFixed(3), `CSV row ${line}`);
    }

    const jsonFile = path.join(h.env.workspace, 'scores.head_score.json');
    await h.runCommand(page(), 'Retrieval Lens: Export scores');
    await h.pickQuickItem(page(), 'head_score format');
    await h.answerFileDialog(page(), jsonFile);
    await h.waitForNotification(page(), /head_score\.json/, h.MEDIUM);
    const ref = JSON.parse(readFileSync(jsonFile, 'utf8'));
    assert.equal(Object.keys(ref).length, run.total);
    for (const [k, v] of Object.entries(ref)) assert.ok(Array.isArray(v) && cells[k], `entry ${k}`);
    await sc.shot(page(), 'scores-exported');
  }),
);
