// Issue 4: bad input gives a clear notification and leaves nothing spinning (empty document, a
// folder that is not a model, a model with a fused attention op); a selection longer than the
// model's context runs as the whole document does (issue 11); a run cancelled
// midway and a model worker that dies midway both leave a UI in which the next run works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

const sc = h.scenario('cancel-and-errors');
let s;
const page = () => s.page;

// A grid several times the default one, so a run lasts long enough to interrupt.
const BIG_GRID = { 'retrievalLens.lengths': [256, 512, 1024], 'retrievalLens.depths': [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100] };

before(async () => {
  s = await h.launch();
  await h.openWorkspace(s.page);
});
after(async () => {
  h.setWorkspaceSettings({ 'retrievalLens.lengths': undefined, 'retrievalLens.depths': undefined });
  await s?.browser.close();
});

async function expectError(pattern, stage) {
  const toast = await h.waitForNotification(page(), pattern, h.MEDIUM);
  assert.ok(await toast.locator('.codicon-error').count(), `not shown as an error: ${pattern}`);
  await assertNothingSpinning();
  await page().waitForTimeout(400); // a progress toast that just closed finishes fading
  await sc.shot(page(), stage);
  await h.dismissNotifications(page());
}

/**
 * No progress notification left (every run's progress toast has a Cancel button; no other
 * notification does), and the panel (when open) not busy.
 */
async function assertNothingSpinning() {
  await h.assertEventually(async () => {
    const cancels = await page()
      .locator('.notifications-toasts .notification-toast .monaco-button', { hasText: /^Cancel$/ })
      .count();
    assert.equal(cancels, 0, `a progress notification is still up: ${(await h.notificationMessages(page())).join(' | ')}`);
  }, h.MEDIUM);
  const frames = await page().locator('iframe.webview.ready').count();
  if (frames)
    await h.assertEventually(
      async () => assert.equal(await h.webview(page()).locator('#app').getAttribute('data-busy'), 'false'),
      h.MEDIUM,
    );
}

/** retrievalLens.model in the user and the workspace settings (Select model writes the user's). */
function modelSettings() {
  return [path.join(h.env.tmp, 'user-data', 'User', 'settings.json'), path.join(h.env.workspace, '.vscode', 'settings.json')].map(
    (f) => JSON.parse(readFileSync(f, 'utf8'))['retrievalLens.model'],
  );
}

/** Select model -> Local model folder -> `dir`: refused with `pattern`, and no model setting saved. */
async function refusedModelFolder(dir, pattern, stage) {
  await h.runCommand(page(), 'Retrieval Lens: Select model');
  await h.pickQuickItem(page(), 'Local model folder');
  await h.answerFileDialog(page(), dir);
  await expectError(pattern, stage);
  assert.deepEqual(modelSettings(), [undefined, undefined], `${dir} was saved as the model`);
}

/** Starts a long run on the whole of long.txt and waits until some cases are done. */
async function startLongRun() {
  h.setWorkspaceSettings(BIG_GRID);
  const editor = await h.openFileFromExplorer(page(), 'long.txt');
  await h.focusEditor(editor); // a cursor, no selection: the whole document
  await page().waitForTimeout(1500); // the settings file change reaches the extension host
  await h.runCommand(page(), `Retrieval Lens: ${h.FIND}`);
  const toast = await h.waitForNotification(page(), /Find retrieval heads/, h.MEDIUM);
  await h.assertEventually(
    async () => {
      const text = await toast.locator('.notification-list-item-message').innerText();
      const m = /(\d+)\/(\d+) cases/.exec(text);
      assert.ok(m && Number(m[1]) >= 2 && Number(m[1]) < Number(m[2]), `not midway yet: ${text}`);
    },
    h.LONG,
    200,
  );
  return toast;
}

/** The model worker of this code-server (a child of its extension host), by its command line. */
function workerPids() {
  const mine = path.join(h.env.tmp, 'extensions');
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmd.includes(mine) && /dist\/worker\.js/.test(cmd)) pids.push(Number(d));
  }
  return pids;
}

test(
  'an empty document gives a clear error',
  sc.step(page, 'empty-document', async () => {
    const editor = await h.openFileFromExplorer(page(), 'empty.txt');
    await h.focusEditor(editor);
    await h.runCommand(page(), `Retrieval Lens: ${h.FIND}`);
    await expectError(/document is empty/, 'empty-document');
  }),
);

test(
  "a selection longer than the model's context is used as the whole document is, and the run says how much it read",
  sc.step(page, 'too-long', async () => {
    // A small grid keeps the run short; what matters is that it runs.
    h.setWorkspaceSettings({ 'retrievalLens.lengths': [256], 'retrievalLens.depths': [0, 100] });
    const editor = await h.openFileFromExplorer(page(), 'long.txt');
    await page().waitForTimeout(1500); // the settings file change reaches the extension host
    await h.selectAll(page(), editor);
    await h.findFromContextMenu(page(), editor);
    const done = await h.waitForRunDone(page());
    assert.match(done.text, /read about the first [\d,]+ of (over )?[\d,]+ tokens of the selection/);
    await assertNothingSpinning();
    await sc.shot(page(), 'selection-longer-than-context');
    await h.dismissNotifications(page());
    h.setWorkspaceSettings({ 'retrievalLens.lengths': undefined, 'retrievalLens.depths': undefined });
  }),
);

test(
  'a folder that is not a model gives a clear error and the model stays as it was',
  sc.step(page, 'not-a-model', async () => {
    await refusedModelFolder(path.join(h.env.workspace, '.vscode'), /is not a model folder/, 'not-a-model-folder');
  }),
);

test(
  'a model with a fused attention op gives an error naming the op, and the model stays as it was',
  sc.step(page, 'fused-op', async () => {
    await refusedModelFolder(
      path.join(h.env.tmp, 'fused-model'),
      /attention op com\.microsoft\.Attention .*never exposes/,
      'fused-attention-op',
    );
  }),
);

test(
  'a run cancelled midway stops, says so, and leaves nothing spinning',
  sc.step(page, 'cancel', async () => {
    const toast = await startLongRun();
    await sc.shot(page(), 'before-cancel');
    await h.clickNotificationButton(toast, 'Cancel');
    await h.waitForNotification(page(), /Find retrieval heads cancelled/, h.MEDIUM);
    await page().waitForTimeout(400); // the progress toast finishes closing
    await sc.shot(page(), 'cancelled');
    await assertNothingSpinning();
    await h.dismissNotifications(page());
  }),
);

test(
  'a model worker that dies midway shows an error, and the extension keeps working',
  sc.step(page, 'worker-crash', async () => {
    await startLongRun();
    const pids = workerPids();
    assert.ok(pids.length >= 1, 'no model worker process found');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const toast = await h.waitForNotification(page(), /worker (stopped|crashed|exited|died)/i, h.MEDIUM);
    assert.ok(await toast.locator('.codicon-error').count(), `not an error: ${await toast.innerText()}`);
    await assertNothingSpinning();
    await page().waitForTimeout(500); // toasts finish their animation
    await sc.shot(page(), 'worker-died');
    await h.dismissNotifications(page());
  }),
);

test(
  'after all that, the next run works',
  sc.step(page, 'recovered', async () => {
    h.setWorkspaceSettings({ 'retrievalLens.lengths': undefined, 'retrievalLens.depths': undefined });
    const editor = await h.openFileFromExplorer(page(), 'coriolanus.txt');
    await h.selectLines(page(), editor, 60);
    await page().waitForTimeout(1500);
    await h.findFromContextMenu(page(), editor);
    const run = await h.waitForRunDone(page());
    const map = await h.waitForScoreMap(page());
    assert.equal(map.layers * map.heads, run.total);
    await sc.shot(page(), 'next-run-works');
  }),
);
