// Playwright helpers for driving code-server (VS Code 1.139 in the browser). run.mjs starts
// code-server and passes its URL and the workspace through E2E_* variables.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

export const env = {
  url: required('E2E_URL'),
  workspace: required('E2E_WORKSPACE'),
  artifacts: required('E2E_ARTIFACTS'),
  tmp: required('E2E_TMP'),
  shared: process.env.E2E_SHARED ?? '',
};

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the scenarios through test/e2e/run.mjs (npm run test:e2e)`);
  return v;
}

// Model runs and the first webview load are slow on a 2-core machine; nothing here measures speed.
export const LONG = 180_000;
export const MEDIUM = 60_000;
export const SHORT = 20_000;

const isMac = process.platform === 'darwin';
export const mod = isMac ? 'Meta' : 'Control';

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, acceptDownloads: false });
  const page = await context.newPage();
  page.setDefaultTimeout(SHORT);
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  return { browser, context, page, consoleErrors };
}

/** Opens the workspace folder and waits until the workbench and the Explorer are up. */
export async function openWorkspace(page) {
  await page.goto(`${env.url}/?folder=${encodeURIComponent(env.workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: MEDIUM });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: MEDIUM });
  // The extension's contributions register a moment after the workbench shows; a palette opened
  // before that lists none of its commands.
  await page.locator('.activitybar a.action-label[aria-label="Retrieval Lens"]').waitFor({ timeout: MEDIUM });
}

/** Keeps a failing stage visible in the artifacts: screenshot then rethrow. */
export function scenario(name) {
  let n = 0;
  return {
    name,
    /** test/e2e artifacts: <scenario>-<NN>-<stage>.png, numbered in the order taken. */
    async shot(page, stage) {
      n += 1;
      const file = path.join(env.artifacts, `${name}-${String(n).padStart(2, '0')}-${stage}.png`);
      mkdirSync(env.artifacts, { recursive: true });
      await page.screenshot({ path: file });
      return file;
    },
    /** Wraps a test body so a failure leaves a screenshot of what the page showed. */
    step(page, stage, fn) {
      return async (t) => {
        try {
          await fn(t);
        } catch (e) {
          try {
            await page().screenshot({ path: path.join(env.artifacts, `${name}-FAILED-${stage}.png`) });
          } catch {
            /* the page may be gone */
          }
          throw e;
        }
      };
    },
  };
}

// ------------------------------------------------------------------------------ explorer/editor

export async function openFileFromExplorer(page, name) {
  await showExplorer(page);
  const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
  await row.first().waitFor({ timeout: MEDIUM });
  // Double-click opens a pinned editor rather than a preview that the next file would replace.
  await row.first().dblclick();
  const editor = editorFor(page, name);
  await editor.locator('.view-lines').waitFor({ timeout: MEDIUM });
  return editor;
}

export async function showExplorer(page) {
  const explorer = page.locator('.explorer-folders-view');
  if (!(await explorer.isVisible())) await runCommand(page, 'View: Show Explorer');
  await explorer.waitFor();
}

/** The editor's visible text (VS Code renders spaces as no-break spaces). */
export async function visibleText(editor) {
  return (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
}

export function editorFor(page, name) {
  return page.locator(`.editor-instance .monaco-editor[data-uri$="/${name}"]`).first();
}

/** Puts the cursor at the start of the document and selects `lines` whole lines with the keyboard. */
/** Focuses the editor by clicking its text area (the editor box is the visible part; .view-lines scrolls). */
export async function focusEditor(editor) {
  const box = await editor.boundingBox();
  await editor.page().mouse.click(box.x + Math.min(160, box.width / 2), box.y + 12);
}

export async function selectLines(page, editor, lines) {
  await focusEditor(editor);
  await page.keyboard.press(`${mod}+Home`);
  for (let i = 0; i < lines; i++) await page.keyboard.press('Shift+ArrowDown');
}

export async function selectAll(page, editor) {
  await focusEditor(editor);
  await page.keyboard.press(`${mod}+a`);
}

/** The status bar's "Ln x, Col y (n selected)" text, to check a selection took. */
export async function selectionStatus(page) {
  return (await page.locator('#status\\.editor\\.selection').innerText()).trim();
}

// ------------------------------------------------------------------------------ commands

export function quickInput(page) {
  return page.locator('.quick-input-widget');
}

/** F1, the command's title, Enter: exactly what a user does. */
export async function runCommand(page, title) {
  const qi = quickInput(page);
  // A palette still closing from the previous command is inert: let it go first.
  if (
    !(await qi.waitFor({ state: 'hidden', timeout: 5000 }).then(
      () => true,
      () => false,
    ))
  ) {
    await page.keyboard.press('Escape');
    await qi.waitFor({ state: 'hidden' });
  }
  await page
    .locator('.monaco-workbench')
    .focus()
    .catch(() => undefined);
  await page.keyboard.press('F1');
  await qi.waitFor({ state: 'visible' });
  const input = qi.locator('.quick-input-box input');
  await input.fill(`>${title}`);
  const row = qi.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: title }) }).first();
  await row.waitFor({ timeout: MEDIUM });
  // Wait until the filtered list settles on the wanted command before accepting it.
  await assertEventually(async () => {
    const focused = await qi
      .locator('.quick-input-list .monaco-list-row.focused .label-name')
      .first()
      .innerText()
      .catch(() => '');
    assert.ok(focused.replace(/\s+/g, ' ').includes(title), `palette focus is on "${focused}", not "${title}"`);
  }, SHORT);
  await input.press('Enter');
}

/** The labels of the palette's rows for a query (the palette is left closed). */
export async function paletteEntries(page, query) {
  const qi = quickInput(page);
  await page.keyboard.press('F1');
  await qi.waitFor({ state: 'visible' });
  await qi.locator('.quick-input-box input').fill(`>${query}`);
  await qi.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: MEDIUM });
  await page.waitForTimeout(300);
  const labels = await qi
    .locator('.quick-input-list .monaco-list-row')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? r.textContent ?? ''));
  return labels;
}

export async function closeQuickInput(page) {
  if (await quickInput(page).isVisible()) await page.keyboard.press('Escape');
  await quickInput(page).waitFor({ state: 'hidden' });
}

/** Picks a quick pick item by (part of) its label. */
export async function pickQuickItem(page, label) {
  const qi = quickInput(page);
  await qi.waitFor({ state: 'visible' });
  const row = qi.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ timeout: MEDIUM });
  await row.click();
}

/**
 * Answers a simple file dialog (what code-server shows for showOpenDialog / showSaveDialog) by
 * typing an absolute path.
 */
export async function answerFileDialog(page, file) {
  const qi = quickInput(page);
  await qi.waitFor({ state: 'visible', timeout: MEDIUM });
  const input = qi.locator('.quick-input-box input');
  // The dialog fills in the default path and lists the folder asynchronously; typing before it
  // settles gets the text overwritten.
  await assertEventually(async () => assert.ok((await input.inputValue()).startsWith('/'), 'dialog has no path yet'), SHORT);
  await page.waitForTimeout(300);
  for (let attempt = 1; ; attempt++) {
    await input.fill(file);
    // The dialog may still overwrite the text once its listing arrives: type it again until it stays.
    await assertEventually(async () => {
      if ((await input.inputValue()) !== file) await input.fill(file);
      assert.equal(await input.inputValue(), file);
    }, SHORT);
    await page.waitForTimeout(500);
    await input.press('Enter');
    // A save dialog over an existing file asks to replace it.
    const replace = page.locator('.monaco-dialog-box .monaco-button', { hasText: /Replace/ });
    if (await replace.isVisible({ timeout: 1000 }).catch(() => false)) await replace.click();
    try {
      await qi.waitFor({ state: 'hidden', timeout: 5000 });
      return;
    } catch (e) {
      const now = await input.inputValue().catch(() => '?');
      const msg = await qi
        .locator('.quick-input-message')
        .innerText()
        .catch(() => '');
      console.error(`[e2e] file dialog still open after Enter (attempt ${attempt}): value "${now}", message "${msg}"`);
      if (attempt >= 3) throw e;
    }
  }
}

export async function openEditorContextMenu(page, editor) {
  // Right-click inside the selection keeps it (outside, VS Code moves the cursor there first):
  // aim at the widest selection highlight in the visible part of the editor.
  const area = await editor.boundingBox();
  const boxes = await editor.locator('.selected-text').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()));
  const inView = boxes.filter((b) => b.width > 8 && b.top >= area.y && b.bottom <= area.y + area.height).sort((a, b) => b.width - a.width);
  const target = inView[0]
    ? { x: inView[0].x + Math.min(inView[0].width / 2, 60), y: inView[0].y + inView[0].height / 2 }
    : { x: area.x + 60, y: area.y + 8 };
  await page.mouse.click(target.x, target.y, { button: 'right' });
  const menu = page.locator('.monaco-menu').first();
  await menu.waitFor({ state: 'visible' });
  return menu;
}

export async function clickContextMenuItem(page, label) {
  const item = page.locator('.monaco-menu .action-item', { has: page.locator('.action-label', { hasText: label }) }).first();
  await item.waitFor({ state: 'visible' });
  // VS Code ignores a click that lands right after the menu opened (it guards against the
  // opening right-click's mouse-up choosing an item), so hover first and retry if it stays open.
  await item.hover();
  await page.waitForTimeout(300);
  for (let attempt = 1; ; attempt++) {
    await item.click();
    try {
      await page.locator('.monaco-menu').first().waitFor({ state: 'hidden', timeout: 3000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

// ------------------------------------------------------------------------------ notifications

export function toasts(page) {
  return page.locator('.notifications-toasts .notification-toast');
}

/** Waits for a notification toast whose message matches `text`; returns the toast locator. */
export async function waitForNotification(page, text, timeout = LONG) {
  const toast = toasts(page)
    .filter({ has: page.locator('.notification-list-item-message', { hasText: text }) })
    .first();
  await toast.waitFor({ state: 'visible', timeout });
  return toast;
}

export async function notificationMessages(page) {
  return page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
}

export async function clickNotificationButton(toast, label) {
  await toast.hover();
  await toast.locator('.notification-list-item-buttons-container .monaco-button', { hasText: label }).first().click();
}

export async function dismissNotifications(page) {
  await runCommand(page, 'Notifications: Clear All Notifications');
  await page.waitForTimeout(300);
}

// ------------------------------------------------------------------------------ views

/** Opens an activity-bar container by its title. */
export async function openViewContainer(page, title) {
  const item = page.locator(`.activitybar .action-item a.action-label[aria-label^="${title}"]`).first();
  await item.waitFor({ timeout: MEDIUM });
  const li = item.locator('xpath=..');
  if ((await li.getAttribute('aria-selected')) !== 'true') await item.click();
  await page
    .locator('.sidebar .composite.title h2', { hasText: title })
    .first()
    .waitFor({ timeout: SHORT })
    .catch(() => undefined);
}

/** The body of a view pane (a tree or a welcome view) by its name, e.g. "Head explorer". */
export function viewPane(page, name) {
  return page
    .locator('.sidebar .pane')
    .filter({ has: page.locator('.pane-header', { hasText: name }) })
    .first();
}

/** Rows of a tree view: label, description, aria label, depth, expanded. */
export async function treeRows(pane) {
  return pane.locator('.monaco-list-row').evaluateAll((rows) =>
    rows.map((r) => ({
      label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
      description: r.querySelector('.label-description')?.textContent?.trim() ?? '',
      aria: r.getAttribute('aria-label') ?? '',
      level: Number(r.getAttribute('aria-level') ?? 0),
      expanded: r.getAttribute('aria-expanded'),
      selected: r.classList.contains('selected') || r.getAttribute('aria-selected') === 'true',
    })),
  );
}

// ------------------------------------------------------------------------------ webview

/** The panel's document, inside the two iframes VS Code wraps a webview in. */
export function webview(page) {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

// ------------------------------------------------------------------------------ misc

export async function assertEventually(fn, timeout = SHORT, interval = 250) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, interval));
    }
  }
}

/** Workspace settings (.vscode/settings.json); VS Code picks a change up on its own. */
export function setWorkspaceSettings(values) {
  const file = path.join(env.workspace, '.vscode', 'settings.json');
  let cur = {};
  try {
    cur = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    cur = {};
  }
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) delete cur[k];
    else cur[k] = v;
  }
  writeFileSync(file, JSON.stringify(cur, null, 2) + '\n');
}

// ------------------------------------------------------------------------------ Retrieval Lens

// Retrieval Lens's own views (score map, Head explorer) are driven from lens.mjs.
export * from './lens.mjs';
