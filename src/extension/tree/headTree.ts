// The Head explorer: layers, then heads by score, a checkbox per head for masks.
import * as vscode from 'vscode';
import type { Store } from '../state/store.js';
import { formatScore, layerRows, treeHeader, type HeadRow, type LayerRow } from '../state/viewState.js';

export type Node = { kind: 'layer'; row: LayerRow } | { kind: 'head'; row: HeadRow };

export const headNodeId = (layer: number, head: number) => `head:${layer}:${head}`;

export class HeadTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | Node[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private layers: Node[] = [];
  private heads = new Map<string, Node>();
  /** The masked state each head's row was last rendered with, by node id. */
  private readonly shownMasked = new Map<string, boolean>();

  constructor(
    private readonly store: Store,
    /** The configured model's short name, for the header before any run. */
    private readonly modelName: () => string,
  ) {}

  refresh(): void {
    this.rebuild();
    this.changed.fire(undefined);
  }

  /**
   * Masks changed: re-render only the heads whose checkbox is out of date. A whole-tree refresh
   * rebuilds every row, and a click on the next checkbox while that happens is lost.
   */
  refreshMasks(): void {
    const stale: Node[] = [];
    for (const [id, node] of this.heads) {
      if (node.kind === 'head' && this.shownMasked.has(id) && this.shownMasked.get(id) !== this.store.masks.has(node.row)) stale.push(node);
    }
    if (stale.length) this.changed.fire(stale);
  }

  private rebuild(): void {
    this.heads.clear();
    this.shownMasked.clear();
    const run = this.store.current;
    this.layers = run ? layerRows(run.view, this.store.retrievalOnly).map((row) => ({ kind: 'layer' as const, row })) : [];
    for (const l of this.layers)
      if (l.kind === 'layer') for (const h of l.row.heads) this.heads.set(headNodeId(h.layer, h.head), { kind: 'head', row: h });
  }

  headNode(layer: number, head: number): Node | undefined {
    return this.heads.get(headNodeId(layer, head));
  }

  getChildren(el?: Node): Node[] {
    if (!el) return this.layers;
    if (el.kind === 'layer') return el.row.heads.map((h) => this.heads.get(headNodeId(h.layer, h.head))!).filter(Boolean);
    return [];
  }

  getParent(el: Node): Node | undefined {
    if (el.kind === 'layer') return undefined;
    return this.layers.find((l) => l.kind === 'layer' && l.row.layer === el.row.layer);
  }

  getTreeItem(el: Node): vscode.TreeItem {
    if (el.kind === 'layer') {
      const r = el.row;
      const item = new vscode.TreeItem(
        `Layer ${r.layer}`,
        r.retrievalCount ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
      );
      item.id = `layer:${r.layer}`;
      item.description = r.retrievalCount
        ? `${r.retrievalCount} retrieval · max ${formatScore(r.maxScore)}`
        : `max ${formatScore(r.maxScore)}`;
      item.iconPath = new vscode.ThemeIcon('layers');
      item.contextValue = 'layer';
      return item;
    }
    const h = el.row;
    const item = new vscode.TreeItem(`Head ${h.layer}-${h.head}`, vscode.TreeItemCollapsibleState.None);
    item.id = headNodeId(h.layer, h.head);
    item.description = formatScore(h.score);
    const masked = this.store.masks.has(h);
    this.shownMasked.set(item.id, masked);
    item.iconPath = h.retrieval
      ? new vscode.ThemeIcon('target', new vscode.ThemeColor('charts.orange'))
      : new vscode.ThemeIcon('circle-small-filled');
    item.tooltip = new vscode.MarkdownString(
      `**Layer ${h.layer}, head ${h.head}**  \nscore ${formatScore(h.score)}${h.retrieval ? ' (retrieval head)' : ''}` +
        (h.activeCases !== null ? `  \nactive in ${h.activeCases} counted cases` : '') +
        (masked ? '  \n*masked*' : ''),
    );
    item.checkboxState = masked ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    item.contextValue = masked ? 'head.masked' : 'head';
    item.command = { command: 'retrievalLens.selectHead', title: 'Select head', arguments: [{ layer: h.layer, head: h.head }] };
    item.accessibilityInformation = {
      label: `Layer ${h.layer} head ${h.head}, score ${formatScore(h.score)}${h.retrieval ? ', retrieval head' : ''}${masked ? ', masked' : ''}`,
    };
    return item;
  }

  /** The view's description and message: the run's model and counts (no message before a run: it would hide the welcome buttons). */
  describe(view: vscode.TreeView<Node>): void {
    const h = treeHeader(this.store.current?.view ?? null, this.store.retrievalOnly, this.modelName());
    if (view.description !== h.description) view.description = h.description;
    if (view.message !== h.message) view.message = h.message;
  }
}
