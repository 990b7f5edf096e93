// The Retrieval Lens panel: a webview that renders PanelState. Strict CSP with a per-load nonce;
// scripts and styles come from the extension's dist/ and media/ folders only.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { parseFromWebview, type FigureKind, type FromWebview, type ToWebview } from '../shared/webviewProtocol.js';
import type { Store } from './store.js';

export class Panel {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  onMessage: (m: FromWebview) => void = () => undefined;
  onClose: () => void = () => undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: Store,
  ) {}

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
        if (!m) return;
        if (m.type === 'ready') {
          this.ready = true;
          this.post();
        }
        this.onMessage(m);
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
      this.onClose();
    });
  }

  post(): void {
    if (!this.panel || !this.ready) return;
    this.send({ type: 'state', state: this.store.panelState() });
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
