// Select model accepts the formats users have: an ONNX Runtime GenAI / AI Toolkit folder
// (genai_config.json, GroupQueryAttention, no config.json) and a torch dynamo opset-23 export (the
// ONNX Attention op); a detection then runs on the chosen model and maps its own layers x heads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as h from './helpers.mjs';

const sc = h.scenario('model-formats');
let s;
const page = () => s.page;
const fixture = (form) => path.resolve(new URL('.', import.meta.url).pathname, '..', 'fixtures', 'models', 'llama', form);

before(async () => {
  h.setWorkspaceSettings({ 'retrievalLens.lengths': [160], 'retrievalLens.depths': [0, 100] });
  s = await h.launch();
  await h.openWorkspace(s.page);
});
after(async () => {
  h.setWorkspaceSettings({ 'retrievalLens.lengths': undefined, 'retrievalLens.depths': undefined });
  // Select model wrote the fixture into the user settings: the scenarios after this one run on the
  // bundled model again, as a user who picks "Bundled needle organism" would.
  const file = path.join(h.env.tmp, 'user-data', 'User', 'settings.json');
  const settings = JSON.parse(readFileSync(file, 'utf8'));
  delete settings['retrievalLens.model'];
  writeFileSync(file, JSON.stringify(settings, null, 2) + '\n');
  await s?.browser.close();
});

function userModelSetting() {
  return JSON.parse(readFileSync(path.join(h.env.tmp, 'user-data', 'User', 'settings.json'), 'utf8'))['retrievalLens.model'];
}

async function selectFolder(dir, stage) {
  await h.runCommand(page(), 'Retrieval Lens: Select model');
  await h.pickQuickItem(page(), 'Local model folder');
  await h.answerFileDialog(page(), dir);
  const toast = await h.waitForNotification(page(), /Retrieval Lens: using/, h.MEDIUM);
  const text = await toast.locator('.notification-list-item-message').innerText();
  assert.match(text, /llama, 2 layers × 4 heads/);
  await sc.shot(page(), stage);
  await h.dismissNotifications(page());
  assert.equal(userModelSetting(), dir);
}

for (const [form, stage] of [
  ['genai', 'genai-folder'],
  ['opset23', 'opset23-export'],
]) {
  test(
    `Select model accepts the ${form} fixture and a detection maps its 2 x 4 heads`,
    sc.step(page, stage, async () => {
      await selectFolder(fixture(form), `${stage}-selected`);
      const editor = await h.openFileFromExplorer(page(), 'coriolanus.txt');
      await h.focusEditor(editor);
      await h.runCommand(page(), `Retrieval Lens: ${h.FIND}`);
      const run = await h.waitForRunDone(page(), h.LONG);
      assert.equal(run.total, 8, run.text);
      assert.equal(run.cases, 6, run.text);
      const map = await h.waitForScoreMap(page());
      assert.deepEqual([map.layers, map.heads], [2, 4]);
      await sc.shot(page(), `${stage}-map`);
      await h.dismissNotifications(page());
    }),
  );
}
