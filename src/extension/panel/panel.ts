// The Retrieval Lens panel: a webview that renders PanelState. Strict CSP with a per-load nonce;
// scripts and styles come from the extension's dist/ and media/ folders only. The panel owns the
// message switch: what only changes the view goes straight to the store; actions that run a model
// or write a file go to the feature that registered for them.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { parseFromWebview, type FigureKind, type FromWebview, type ToWebview } from '../../shared/webviewProtocol.js';
import type { Store } from '../state/store.js';

/** Messages a feature handles (the rest are view state the panel applies itself). */
export type PanelAction = Extract<
  FromWebview,
  { type: 'inspect' | 'regenerate' | 'figure' | 'exportJson' | 'setCompareLevel' | 'selectAttributionToken' }
>;
type Handler = (m: PanelAction) => void;

export class Panel {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly handlers: Record<string, Handler[]> = {};
  private readonly closeListeners: (() => void)[] = [];
  private progressText: string | null = null;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: Store,
    private readonly log: (line: string) => void,
  ) {
    store.onChange(() => this.post());
  }

  /** A feature takes charge of one kind of action message (several may listen: each checks what it is for). */
  on<K extends PanelAction['type']>(type: K, fn: (m: Extract<PanelAction, { type: K }>) => void): void {
    (this.handlers[type] ??= []).push(fn as Handler);
  }

  /** Runs when the user closes the panel (highlights live with it). */
  onClose(fn: () => void): void {
    this.closeListeners.push(fn);
  }

  private dispatch(m: FromWebview): void {
    const s = this.store;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.post();
        return;
      case 'selectHead':
        return s.select(m.head, 'panel');
      case 'setMask':
        return s.setMask(m.head, m.masked, 'panel');
      case 'setMaskMode':
        return s.setMaskMode(m.mode);
      case 'setMaskScope':
        return s.setMaskScope(m.scope);
      case 'setStep':
        return s.setStep(m.step);
      case 'setTab':
        return s.setTab(m.tab, 'panel');
      case 'highlightTop':
        return s.setHighlightTop(m.top);
      case 'setDecore':
        return s.setDecore(m.on);
      case 'command':
        void vscode.commands.executeCommand(`retrievalLens.${m.command}`);
        return;
      case 'error':
        this.log(`webview: ${m.message}`);
        return;
      default: {
        const fns = this.handlers[m.type];
        if (fns?.length) for (const fn of fns) fn(m);
        else this.log(`webview: no handler for ${m.type}`);
      }
    }
  }

  get visible(): boolean {
    return Boolean(this.panel);
  }

  show(preserveFocus = true): void {
    if (this.panel) {
      this.panel.reveal(undefined, preserveFocus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      'retrievalLens.panel',
      'Retrieval Lens',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
      {
        enableScripts: true,
        // State is re-posted when the panel shows again; no need to keep a hidden page alive.
        retainContextWhenHidden: false,
        localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
      },
    );
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.svg');
    this.panel = panel;
    this.ready = false;
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage(
      (raw) => {
        const m = parseFromWebview(raw);
        if (m) this.dispatch(m);
      },
      undefined,
      this.disposables,
    );
    panel.onDidChangeViewState(
      () => {
        if (panel.visible) this.post();
      },
      undefined,
      this.disposables,
    );
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
      for (const d of this.disposables.splice(0)) d.dispose();
      for (const fn of this.closeListeners) fn();
    });
  }

  post(): void {
    if (!this.panel || !this.ready) return;
    this.send({ type: 'state', state: this.store.panelState() });
    if (this.progressText) this.send({ type: 'progress', text: this.progressText });
  }

  /** The running job's progress line, for the status line; it changes often, so it does not redraw the panel. */
  progress(text: string | null): void {
    if (text === this.progressText) return;
    this.progressText = text;
    if (this.panel && this.ready) this.send({ type: 'progress', text });
  }

  requestFigure(figure: FigureKind, format: 'svg' | 'png'): boolean {
    if (!this.panel || !this.ready) return false;
    this.send({ type: 'exportFigure', figure, format });
    return true;
  }

  private send(m: ToWebview): void {
    void this.panel?.webview.postMessage(m);
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const css = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'panel.css'));
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data: blob:`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}" nonce="${nonce}">
<title>Retrieval Lens</title>
</head>
<body data-testid="rl-panel">
<div id="app" data-testid="rl-app"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
