// Activation: wires the store to the tree, panel, status bar and editor decorations, and
// registers the commands. Model work runs in the forked worker (dist/worker.js).
import * as vscode from 'vscode';
import * as path from 'node:path';
import { WorkerClient } from '../worker/client.js';
import { Store } from './store.js';
import { HeadTree, type Node } from './tree.js';
import { Panel } from './panel.js';
import { EditorHighlights } from './decorations.js';
import { Runner } from './runs.js';
import { exportScores, findRetrievalHeads, onModelChanged, openScores, selectModel, defaultSaveUri, type Env } from './controller.js';
import { compareRuns, maskAllRetrievalHeads, regenerate, runAblation, showHighlights, targetHeads } from './instrument.js';
import { maskStatusText } from './viewState.js';
import { modelRef, readSettings } from './settings.js';
import type { FigureKind, FromWebview, HeadRef } from '../shared/webviewProtocol.js';

export function activate(context: vscode.ExtensionContext) {
  const out = vscode.window.createOutputChannel('Retrieval Lens');
  const log = (line: string) => out.appendLine(line);
  const store = new Store();
  const settings = readSettings();
  store.maskMode = settings.maskMode;
  store.maskScope = settings.maskScope;
  const worker = new WorkerClient({ workerPath: path.join(context.extensionPath, 'dist', 'worker.js'), log: (l) => log(`[worker] ${l}`) });
  const runner = new Runner(store, log);
  const tree = new HeadTree(store);
  const treeView = vscode.window.createTreeView<Node>('retrievalLens.heads', {
    treeDataProvider: tree,
    showCollapseAll: true,
    canSelectMany: true,
    manageCheckboxStateManually: true,
  });
  const panel = new Panel(context.extensionUri, store);
  const highlights = new EditorHighlights(store);
  const status = vscode.window.createStatusBarItem('retrievalLens.masks', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Retrieval Lens masks';
  status.command = 'retrievalLens.clearMasks';

  const env: Env = {
    context,
    store,
    worker,
    runner,
    log,
    showPanel: () => panel.show(true),
    afterRun: () => {
      // Highlights for the new run: one short generation with attention, in the background.
      if (store.current?.doc) void showHighlights(env, true);
    },
  };

  const setContext = () => {
    void vscode.commands.executeCommand('setContext', 'retrievalLens.hasRun', Boolean(store.current));
    void vscode.commands.executeCommand('setContext', 'retrievalLens.retrievalOnly', store.retrievalOnly);
    void vscode.commands.executeCommand('setContext', 'retrievalLens.hasMasks', store.masks.size > 0);
  };

  let revealing = false;
  store.onChange((what) => {
    if (what.has('run') || what.has('filter')) {
      tree.refresh();
      tree.describe(treeView);
    } else if (what.has('masks')) tree.refreshMasks();
    if (what.has('selection') && store.selected && treeView.visible) {
      const node = tree.headNode(store.selected.layer, store.selected.head);
      if (node && !revealing) void treeView.reveal(node, { select: true, focus: false, expand: true }).then(undefined, () => undefined);
    }
    status.text = `$(eye-closed) ${maskStatusText(store.masks.size)}`;
    status.tooltip = store.masks.size
      ? `Masked: ${store.masks
          .list()
          .map((h) => `${h.layer}-${h.head}`)
          .join(', ')} (${store.maskMode}, ${store.maskScope}). Click to clear.`
      : 'No heads masked';
    if (store.current) status.show();
    else status.hide();
    setContext();
    panel.post();
    if (what.has('highlight') || what.has('run')) highlights.render();
  });

  const figureRequests = new Map<string, true>();
  const saveFigure = async (figure: FigureKind, format: 'svg' | 'png', data: string) => {
    figureRequests.delete(`${figure}:${format}`);
    const base = (store.current?.name ?? 'retrieval-lens').replace(/[^\w.-]+/g, '_');
    const dest = await vscode.window.showSaveDialog({
      defaultUri: defaultSaveUri(`${base}.${figure}.${format}`),
      filters: { [format.toUpperCase()]: [format] },
    });
    if (!dest) return;
    const bytes = format === 'png' ? Buffer.from(data.replace(/^data:image\/png;base64,/, ''), 'base64') : Buffer.from(data, 'utf8');
    await vscode.workspace.fs.writeFile(dest, bytes);
    void vscode.window.showInformationMessage(`Retrieval Lens: figure written to ${dest.fsPath}`);
  };

  panel.onMessage = (m: FromWebview) => {
    switch (m.type) {
      case 'selectHead':
        store.select(m.head);
        break;
      case 'setMask':
        store.setMask(m.head, m.masked);
        break;
      case 'setMaskMode':
        store.maskMode = m.mode;
        store.emit('masks');
        break;
      case 'setMaskScope':
        store.maskScope = m.scope;
        store.emit('masks');
        break;
      case 'setStep':
        store.step = m.step;
        store.emit('highlight');
        break;
      case 'setTab':
        store.tab = m.tab;
        break;
      case 'highlightTop':
        store.highlightTop = m.top;
        store.emit('highlight');
        break;
      case 'inspect':
        void showHighlights(env);
        break;
      case 'regenerate':
        void regenerate(env, m.question);
        break;
      case 'command':
        void vscode.commands.executeCommand(`retrievalLens.${m.command}`);
        break;
      case 'figure':
        void saveFigure(m.figure, m.format, m.data);
        break;
      case 'exportJson': {
        const last = store.ablations.at(-1);
        if (!last) break;
        void (async () => {
          const dest = await vscode.window.showSaveDialog({ defaultUri: defaultSaveUri('ablation.json'), filters: { JSON: ['json'] } });
          if (dest) await vscode.workspace.fs.writeFile(dest, Buffer.from(JSON.stringify(last.file, null, 1), 'utf8'));
        })();
        break;
      }
      case 'error':
        log(`webview: ${m.message}`);
        break;
    }
  };
  panel.onClose = () => {
    // Highlights live with the panel.
    store.clearHighlights();
    highlights.clear();
  };

  const cmd = (id: string, fn: (...args: any[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  cmd('retrievalLens.findRetrievalHeads', () => findRetrievalHeads(env));
  cmd('retrievalLens.selectModel', () => selectModel(env));
  cmd('retrievalLens.openScores', (uri?: vscode.Uri) => openScores(env, uri instanceof vscode.Uri ? uri : undefined));
  cmd('retrievalLens.exportScores', () => exportScores(env));
  cmd('retrievalLens.showPanel', () => panel.show(false));
  cmd('retrievalLens.selectHead', (h: HeadRef) => {
    revealing = true;
    store.select(h);
    revealing = false;
    if (!panel.visible) panel.show(true);
  });
  cmd('retrievalLens.filterRetrievalOnly', () => {
    store.retrievalOnly = true;
    store.emit('filter');
  });
  cmd('retrievalLens.showAllHeads', () => {
    store.retrievalOnly = false;
    store.emit('filter');
  });
  cmd('retrievalLens.maskHead', (arg: unknown, sel?: unknown[]) => store.setMasks(targetHeads(env, arg, sel), true));
  cmd('retrievalLens.unmaskHead', (arg: unknown, sel?: unknown[]) => store.setMasks(targetHeads(env, arg, sel), false));
  cmd('retrievalLens.maskAllRetrievalHeads', () => maskAllRetrievalHeads(env));
  cmd('retrievalLens.clearMasks', () => store.clearMasks());
  cmd('retrievalLens.showNeedleHighlights', async () => {
    panel.show(true);
    store.tab = 'highlights';
    await showHighlights(env);
  });
  cmd('retrievalLens.regenerate', async () => {
    const q = await vscode.window.showInputBox({
      title: 'Question to ask about the text',
      ignoreFocusOut: true,
      value: store.regenerate?.question ?? store.inspect?.data.question ?? '',
    });
    if (q !== undefined) await regenerate(env, q);
  });
  cmd('retrievalLens.runAblation', () => runAblation(env));
  cmd('retrievalLens.compareRuns', () => compareRuns(env));
  cmd('retrievalLens.exportFigure', async () => {
    // Every quick pick and input box here ignores focus-out: after the palette closes, VS Code gives
    // focus back to the panel's webview asynchronously, and that late focus would close the pick
    // under the user's cursor.
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Score map (SVG)', figure: 'scoreMap' as const, format: 'svg' as const },
        { label: 'Score map (PNG)', figure: 'scoreMap' as const, format: 'png' as const },
        { label: 'Ablation plot (SVG)', figure: 'ablation' as const, format: 'svg' as const },
        { label: 'Ablation plot (PNG)', figure: 'ablation' as const, format: 'png' as const },
      ],
      { title: 'Export figure', ignoreFocusOut: true },
    );
    if (!pick) return;
    if (!panel.visible) panel.show(true);
    if (!panel.requestFigure(pick.figure, pick.format))
      void vscode.window.showWarningMessage('Retrieval Lens: the panel is still opening; try again in a moment.');
  });
  cmd('retrievalLens.cancelAndRestartWorker', () => worker.dispose());

  context.subscriptions.push(
    out,
    treeView,
    status,
    highlights,
    { dispose: () => worker.dispose() },
    { dispose: () => panel.dispose() },
    treeView.onDidChangeCheckboxState((e) => {
      for (const [node, state] of e.items)
        if (node.kind === 'head') store.masks.set(node.row, state === vscode.TreeItemCheckboxState.Checked);
      store.emit('masks');
    }),
    treeView.onDidChangeSelection((e) => {
      const n = e.selection[0];
      if (n?.kind === 'head' && (store.selected?.layer !== n.row.layer || store.selected?.head !== n.row.head)) {
        revealing = true;
        store.select({ layer: n.row.layer, head: n.row.head });
        revealing = false;
      }
    }),
    vscode.workspace.onDidChangeTextDocument((e) => {
      // Edits move the text under the highlights: drop them rather than paint the wrong words.
      if (store.inspect && e.document.uri.toString() === store.inspect.doc.uri && e.contentChanges.length) {
        store.clearHighlights();
        highlights.clear();
      }
    }),
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (store.inspect && d.uri.toString() === store.inspect.doc.uri) store.clearHighlights();
    }),
    vscode.window.onDidChangeVisibleTextEditors(() => highlights.render()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('retrievalLens.maskMode') || e.affectsConfiguration('retrievalLens.maskScope')) {
        const s = readSettings();
        store.maskMode = s.maskMode;
        store.maskScope = s.maskScope;
        store.emit('masks');
      }
      if (['model', 'dtype', 'threads', 'executionProvider'].some((k) => e.affectsConfiguration(`retrievalLens.${k}`))) {
        onModelChanged(env, modelRef(readSettings(), context));
      }
    }),
  );
  tree.describe(treeView);
  setContext();
  return { store, worker };
}

export function deactivate() {}
