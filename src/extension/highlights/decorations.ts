// Needle highlights on the user's own document: where the highlighted heads attend at the
// current step, as background intensity, and where the needle was inserted.
import * as vscode from 'vscode';
import { attentionRanges, textToDoc } from './offsets.js';
import type { Store } from '../state/store.js';

const LEVELS = 5;

export class EditorHighlights implements vscode.Disposable {
  private readonly levels: vscode.TextEditorDecorationType[];
  private readonly needle: vscode.TextEditorDecorationType;

  constructor(private readonly store: Store) {
    // Attention weight as intensity: five alpha steps of one theme-independent orange.
    this.levels = Array.from({ length: LEVELS }, (_, i) =>
      vscode.window.createTextEditorDecorationType({
        backgroundColor: `rgba(255, 140, 0, ${(0.15 + (0.6 * (i + 1)) / LEVELS).toFixed(2)})`,
        borderRadius: '2px',
        overviewRulerColor: i === LEVELS - 1 ? 'rgba(255, 140, 0, 0.9)' : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right,
      }),
    );
    this.needle = vscode.window.createTextEditorDecorationType({
      before: {
        color: new vscode.ThemeColor('editorCodeLens.foreground'),
        backgroundColor: new vscode.ThemeColor('editor.inactiveSelectionBackground'),
        border: '1px dashed',
        margin: '0 4px 0 0',
        fontStyle: 'italic',
      },
    });
  }

  /** Redraws on every visible editor that shows the inspected document; clears the others. */
  render(): void {
    const ins = this.store.inspect;
    for (const editor of vscode.window.visibleTextEditors) {
      if (!ins || editor.document.uri.toString() !== ins.doc.uri || editor.document.version !== ins.doc.version) {
        this.clear(editor);
        continue;
      }
      const view = this.store.highlightView();
      const step = Math.min(this.store.step, (view?.attention.length ?? 1) - 1);
      const att = view?.attention[step];
      const buckets: vscode.Range[][] = Array.from({ length: LEVELS }, () => []);
      if (att) {
        const spans = ins.data.tokens;
        for (const r of attentionRanges(spans, ins.data.segments, ins.doc.eol, att.pos, att.w)) {
          const b = Math.min(LEVELS - 1, Math.floor(r.weight * LEVELS));
          buckets[b].push(new vscode.Range(editor.document.positionAt(r.start), editor.document.positionAt(r.end)));
        }
      }
      this.levels.forEach((d, i) => editor.setDecorations(d, buckets[i]));
      const pos = editor.document.positionAt(textToDoc(ins.doc.eol, ins.data.needleTextOffset));
      editor.setDecorations(this.needle, [
        {
          range: new vscode.Range(pos, pos),
          renderOptions: { before: { contentText: `needle: ${ins.data.needle.needle}` } },
          hoverMessage: `Retrieval Lens inserted this needle here for the run (it is not in your document). Question: ${ins.data.question}`,
        },
      ]);
    }
  }

  clear(editor?: vscode.TextEditor): void {
    const eds = editor ? [editor] : vscode.window.visibleTextEditors;
    for (const e of eds) {
      for (const d of this.levels) e.setDecorations(d, []);
      e.setDecorations(this.needle, []);
    }
  }

  dispose(): void {
    this.clear();
    for (const d of this.levels) d.dispose();
    this.needle.dispose();
  }
}
