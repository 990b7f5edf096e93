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
