// Figure export: the panel draws and rasterises; the extension asks where to save and writes.
import * as vscode from 'vscode';
import type { FigureKind } from '../../shared/webviewProtocol.js';
import { command, type Lens } from '../lens.js';
import { saveAs } from '../documents.js';

const FIGURES: { label: string; figure: FigureKind; format: 'svg' | 'png' }[] = [
  { label: 'Score map (SVG)', figure: 'scoreMap', format: 'svg' },
  { label: 'Score map (PNG)', figure: 'scoreMap', format: 'png' },
  { label: 'Ablation plot (SVG)', figure: 'ablation', format: 'svg' },
  { label: 'Ablation plot (PNG)', figure: 'ablation', format: 'png' },
  { label: 'KV what-if plot (SVG)', figure: 'kvwhatif', format: 'svg' },
  { label: 'KV what-if plot (PNG)', figure: 'kvwhatif', format: 'png' },
];

export function registerFigures(lens: Lens): void {
  const { panel, store } = lens;
  command(lens, 'showPanel', () => panel.show(false));
  panel.on('figure', (m) => {
    const base = (store.current?.name ?? 'retrieval-lens').replace(/[^\w.-]+/g, '_');
    const bytes = m.format === 'png' ? Buffer.from(m.data.replace(/^data:image\/png;base64,/, ''), 'base64') : Buffer.from(m.data, 'utf8');
    void saveAs(`${base}.${m.figure}.${m.format}`, { [m.format.toUpperCase()]: [m.format] }, bytes, 'figure');
  });
  command(lens, 'exportFigure', async () => {
    // Every quick pick and input box here ignores focus-out: after the palette closes, VS Code gives
    // focus back to the panel's webview asynchronously, and that late focus would close the pick
    // under the user's cursor.
    const pick = await vscode.window.showQuickPick(FIGURES, { title: 'Export figure', ignoreFocusOut: true });
    if (!pick) return;
    if (!panel.visible) panel.show(true);
    if (!panel.requestFigure(pick.figure, pick.format))
      void vscode.window.showWarningMessage('Retrieval Lens: the panel is still opening; try again in a moment.');
  });
}
