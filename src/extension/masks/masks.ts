// Masks: which heads are switched off for re-generation and ablation. Commands, the status bar
// item that counts them, and the mask mode/scope settings.
import * as vscode from 'vscode';
import type { HeadRef } from '../../shared/webviewProtocol.js';
import { command, setWhen, type Lens } from '../lens.js';
import { maskStatusText, retrievalHeads } from '../state/viewState.js';
import { readSettings } from '../settings.js';
import type { Store } from '../state/store.js';

export function registerMasks(lens: Lens): void {
  const { store } = lens;
  const settings = readSettings();
  store.setMaskMode(settings.maskMode, settings.maskScope);
  const status = vscode.window.createStatusBarItem('retrievalLens.masks', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Retrieval Lens masks';
  status.command = 'retrievalLens.clearMasks';
  store.onChange(() => {
    const n = store.masks.size;
    status.text = `$(eye-closed) ${maskStatusText(n)}`;
    status.tooltip = n
      ? `Masked: ${store.masks
          .list()
          .map((h) => `${h.layer}-${h.head}`)
          .join(', ')} (${store.maskMode}, ${store.maskScope}). Click to clear.`
      : 'No heads masked';
    if (store.current) status.show();
    else status.hide();
    setWhen('hasMasks', n > 0);
  });
  command(lens, 'maskHead', (arg: unknown, sel?: unknown[]) => store.setMasks(targetHeads(store, arg, sel), true));
  command(lens, 'unmaskHead', (arg: unknown, sel?: unknown[]) => store.setMasks(targetHeads(store, arg, sel), false));
  command(lens, 'maskAllRetrievalHeads', () => maskAllRetrievalHeads(store));
  command(lens, 'clearMasks', () => store.clearMasks());
  lens.context.subscriptions.push(
    status,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('retrievalLens.maskMode') || e.affectsConfiguration('retrievalLens.maskScope')) {
        const s = readSettings();
        store.setMaskMode(s.maskMode, s.maskScope);
      }
    }),
  );
  setWhen('hasMasks', false);
}

/** The heads a tree or palette command acts on: the multi-selection, the clicked row, else the selected head. */
export function targetHeads(store: Store, arg: unknown, selection: readonly unknown[] | undefined): HeadRef[] {
  const pick = (x: unknown): HeadRef | null => {
    const o = x as { row?: HeadRef; layer?: number; head?: number; kind?: string };
    if (o?.kind === 'head' && o.row) return { layer: o.row.layer, head: o.row.head };
    if (Number.isInteger(o?.layer) && Number.isInteger(o?.head)) return { layer: o.layer!, head: o.head! };
    return null;
  };
  const list = (selection?.length ? selection : [arg]).map(pick).filter((h): h is HeadRef => h !== null);
  if (list.length) return list;
  return store.selected ? [store.selected] : [];
}

function maskAllRetrievalHeads(store: Store): void {
  const run = store.current;
  if (!run) {
    void vscode.window.showErrorMessage('Retrieval Lens: no scores yet. Find retrieval heads or open a scores file first.');
    return;
  }
  const heads = retrievalHeads(run.view);
  if (!heads.length) {
    void vscode.window.showInformationMessage(`Retrieval Lens: no head scores ≥ ${run.view.threshold}; nothing to mask.`);
    return;
  }
  store.setMasks(heads, true);
}
