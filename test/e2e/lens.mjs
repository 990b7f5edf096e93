// Helpers for Retrieval Lens's own views: the panel's score map, the Head explorer, runs.
import { LONG, webview, viewPane, treeRows, waitForNotification, openEditorContextMenu, clickContextMenuItem } from './helpers.mjs';
import assert from 'node:assert/strict';

export const FIND = 'Find retrieval heads for this context';

/** Waits for the "n of m heads score ≥ t" notification a finished detection run shows. */
export async function waitForRunDone(page, timeout = LONG) {
  const toast = await waitForNotification(page, /heads score ≥/, timeout);
  const text = await toast.locator('.notification-list-item-message').innerText();
  const m = /(\d+) of (\d+) heads score ≥ ([\d.]+) \((\d+)\/(\d+) cases/.exec(text);
  assert.ok(m, `unexpected completion message: ${text}`);
  return { text, retrieval: Number(m[1]), total: Number(m[2]), threshold: Number(m[3]), counted: Number(m[4]), cases: Number(m[5]) };
}

/** The score map in the panel, once it has rendered `layers` x `heads` cells. */
export async function waitForScoreMap(page, timeout = LONG) {
  const wv = webview(page);
  const summary = wv.locator('[data-testid="map-summary"]');
  await summary.waitFor({ timeout });
  await wv.locator('[data-testid="score-map"] g.cell').first().waitFor({ timeout });
  return {
    layers: Number(await summary.getAttribute('data-layers')),
    heads: Number(await summary.getAttribute('data-heads')),
    retrieval: Number(await summary.getAttribute('data-retrieval-count')),
    summary: await summary.innerText(),
  };
}

/** Every cell of the score map: { 'l-h': { score, retrieval, masked, selected } }. */
export async function scoreMapCells(page) {
  const cells = await webview(page)
    .locator('[data-testid="score-map"] g.cell')
    .evaluateAll((gs) =>
      gs.map((g) => ({
        id: `${g.getAttribute('data-layer')}-${g.getAttribute('data-head')}`,
        score: Number(g.getAttribute('data-score')),
        retrieval: g.getAttribute('data-retrieval') === 'true',
        masked: g.getAttribute('data-masked') === 'true',
        selected: g.getAttribute('data-selected') === 'true',
      })),
    );
  return Object.fromEntries(cells.map((c) => [c.id, c]));
}

export function headExplorer(page) {
  return viewPane(page, 'Head explorer');
}

/** Head rows of the Head explorer ("Head l-h", description = score) that are rendered now. */
export async function headRows(page) {
  const rows = await treeRows(headExplorer(page));
  return rows
    .filter((r) => /^Head \d+-\d+$/.test(r.label))
    .map((r) => {
      const [, l, h] = /^Head (\d+)-(\d+)$/.exec(r.label);
      return {
        ...r,
        id: `${l}-${h}`,
        layer: Number(l),
        head: Number(h),
        score: Number(r.description),
        retrievalHead: /retrieval head/.test(r.aria),
        masked: /masked/.test(r.aria),
      };
    });
}

export async function layerRows(page) {
  const rows = await treeRows(headExplorer(page));
  return rows
    .filter((r) => /^Layer \d+$/.test(r.label))
    .map((r) => ({ ...r, layer: Number(r.label.slice(6)), retrievalCount: Number(/^(\d+) retrieval/.exec(r.description)?.[1] ?? 0) }));
}

/** Clicks a view title action of the Head explorer by its title (e.g. "Show retrieval heads only"). */
export async function headExplorerAction(page, title) {
  const sidebar = page.locator('.sidebar');
  await sidebar.hover();
  const action = sidebar.locator(`.actions-container .action-label[aria-label^="${title}"]`).first();
  await action.waitFor({ state: 'visible' });
  await action.click();
}

/** Runs "Find retrieval heads" on the current selection from the editor's context menu. */
export async function findFromContextMenu(page, editor) {
  await openEditorContextMenu(page, editor);
  await clickContextMenuItem(page, FIND);
}

/** A deterministic "random" draw (mulberry32), so a failure can be replayed. */
export function draw(items, k, seed) {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pool = [...items];
  const out = [];
  while (out.length < k && pool.length) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
  return out;
}

/** The element's box lies inside the panel as it is shown: visible without scrolling. */
export async function assertOnScreen(page, locator, what) {
  const frame = await page.locator('iframe.webview.ready').first().boundingBox();
  const box = await locator.boundingBox();
  assert.ok(box, `${what} is not rendered`);
  assert.ok(
    box.y >= frame.y - 1 &&
      box.y + box.height <= frame.y + frame.height + 1 &&
      box.x >= frame.x - 1 &&
      box.x + box.width <= frame.x + frame.width + 1,
    `${what} is off screen: ${JSON.stringify(box)} in the panel ${JSON.stringify(frame)}`,
  );
  return box;
}

/**
 * ROUGE-1 recall of the needle in an answer, on lower-cased words: the paper's (and the
 * extension's ablation's) retrieval success is recall > 0.5. The bundled organism answers with the
 * whole needle sentence, and with its retrieval heads masked it still says "<name>'s <attribute>
 * is" with another value ("Thisthu's home town is Kruarevale.": recall 4/6), so recall does not
 * tell a lost needle from a kept one; its exact answers do (README: 0.94 exact unmasked, 0.00 with
 * the top three heads masked). The mask checks therefore look for the needle's value, its last word.
 */
export function recall(reference, answer) {
  const words = (t) => t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const have = new Map();
  for (const w of words(answer)) have.set(w, (have.get(w) ?? 0) + 1);
  const ref = words(reference);
  let hit = 0;
  for (const w of ref) if (have.get(w)) (hit++, have.set(w, have.get(w) - 1));
  return ref.length ? hit / ref.length : 0;
}
