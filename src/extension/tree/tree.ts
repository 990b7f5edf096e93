// The Head explorer feature: the tree view, its filter and selection commands, and mask checkboxes.
import * as vscode from 'vscode';
import type { HeadRef } from '../../shared/webviewProtocol.js';
import { command, setWhen, type Lens } from '../lens.js';
import { HeadTree, type Node } from './headTree.js';
import { modelRef, readSettings } from '../settings.js';
import { displayModelName } from '../state/viewState.js';

export function registerTree(lens: Lens): void {
  const { store, panel } = lens;
  const tree = new HeadTree(store, () => displayModelName(modelRef(readSettings(), lens.context).spec));
  const view = vscode.window.createTreeView<Node>('retrievalLens.heads', {
    treeDataProvider: tree,
    showCollapseAll: true,
    canSelectMany: true,
    manageCheckboxStateManually: true,
  });
  store.onChange((events, origin) => {
    if (events.has('run') || events.has('filter')) tree.refresh();
    else if (events.has('masks')) tree.refreshMasks();
    // A model change (no run event) renames the header too.
    tree.describe(view);
    // A head chosen in the tree is already shown there; revealing it again would steal the click.
    if (events.has('selection') && origin !== 'tree' && store.selected && view.visible) {
      const node = tree.headNode(store.selected.layer, store.selected.head);
      if (node) void view.reveal(node, { select: true, focus: false, expand: true }).then(undefined, () => undefined);
    }
    setWhen('hasRun', Boolean(store.current));
    setWhen('retrievalOnly', store.retrievalOnly);
  });
  command(lens, 'selectHead', (h: HeadRef) => {
    store.select(h, 'tree');
    if (!panel.visible) panel.show(true);
  });
  command(lens, 'filterRetrievalOnly', () => store.setRetrievalOnly(true));
  command(lens, 'showAllHeads', () => store.setRetrievalOnly(false));
  lens.context.subscriptions.push(
    view,
    view.onDidChangeCheckboxState((e) => {
      const heads = (checked: boolean): HeadRef[] =>
        e.items.flatMap(([n, s]) => (n.kind === 'head' && (s === vscode.TreeItemCheckboxState.Checked) === checked ? [n.row] : []));
      store.setMasks(heads(true), true, 'tree');
      store.setMasks(heads(false), false, 'tree');
    }),
    view.onDidChangeSelection((e) => {
      const n = e.selection[0];
      if (n?.kind === 'head' && (store.selected?.layer !== n.row.layer || store.selected?.head !== n.row.head))
        store.select({ layer: n.row.layer, head: n.row.head }, 'tree');
    }),
  );
  tree.describe(view);
  setWhen('hasRun', false);
  setWhen('retrievalOnly', false);
}
