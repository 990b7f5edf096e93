// Smoke: code-server starts with the extension installed, the extension activates, and its
// commands and Head explorer are where users look for them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  openWorkspace,
  openFileFromExplorer,
  visibleText,
  scenario,
  paletteEntries,
  closeQuickInput,
  openViewContainer,
  viewPane,
  assertEventually,
  MEDIUM,
} from './helpers.mjs';

const sc = scenario('smoke');
let s;
const page = () => s.page;

before(async () => {
  s = await launch();
  await openWorkspace(s.page);
});
after(async () => {
  await s?.browser.close();
});

test(
  'the workspace opens in code-server with the sample documents',
  sc.step(page, 'workspace', async () => {
    const editor = await openFileFromExplorer(page(), 'coriolanus.txt');
    await assertEventually(async () => assert.match(await visibleText(editor), /First Citizen/));
    await sc.shot(page(), 'workspace');
  }),
);

test(
  'the palette lists the Retrieval Lens commands',
  sc.step(page, 'palette', async () => {
    const labels = await paletteEntries(page(), 'Retrieval Lens:');
    await sc.shot(page(), 'palette');
    await closeQuickInput(page());
    for (const title of ['Find retrieval heads for this context', 'Select model', 'Open scores file', 'Export scores']) {
      assert.ok(
        labels.some((l) => l.includes(`Retrieval Lens: ${title}`)),
        `palette has no "Retrieval Lens: ${title}" (has: ${labels.join(' | ')})`,
      );
    }
  }),
);

test(
  'the activity bar has the Retrieval Lens container with the Head explorer, and the extension activates',
  sc.step(page, 'head-explorer', async () => {
    await openViewContainer(page(), 'Retrieval Lens');
    const pane = viewPane(page(), 'Head explorer');
    await pane.waitFor({ timeout: MEDIUM });
    // Before any run the view has no message (a message hides the welcome content), so the
    // welcome's buttons show. The header's description, the model's name, comes from the
    // extension's own code, so seeing it means the extension activated in the extension host.
    await assertEventually(async () => {
      const text = await pane.innerText();
      for (const label of ['Find retrieval heads for this context', 'Open scores file'])
        assert.ok(await pane.locator('.welcome-view-content .monaco-button', { hasText: label }).count(), `no "${label}" button: ${text}`);
      assert.match(text, /select another model/);
      const header = await pane.locator('.pane-header').innerText();
      assert.match(header, /needle-organism-2k/, `no model name from the activated extension in the Head explorer header: ${header}`);
    }, MEDIUM);
    await sc.shot(page(), 'head-explorer');
  }),
);
