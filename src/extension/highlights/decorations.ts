// Needle highlights on the user's own document: where the highlighted heads attend at the
// current step, as background intensity on whole words, the strongest word boxed, a hover that
// says what the colour means, and where the needle was inserted.
import * as vscode from 'vscode';
import { attentionRanges, expandToWords, textToDoc } from './offsets.js';
import type { Store } from '../state/store.js';
import { stepTokenLabel, WHERE_LABEL, whereIs } from '../../shared/highlightLabels.js';

const LEVELS = 5;
const ORANGE = (alpha: number) => `rgba(255, 140, 0, ${alpha.toFixed(2)})`;

export class EditorHighlights implements vscode.Disposable {
  private readonly levels: vscode.TextEditorDecorationType[];
  private readonly strongest: vscode.TextEditorDecorationType;
  private readonly needle: vscode.TextEditorDecorationType;

  constructor(private readonly store: Store) {
    // Attention weight as intensity: five alpha steps of one theme-independent orange.
    this.levels = Array.from({ length: LEVELS }, (_, i) =>
      vscode.window.createTextEditorDecorationType({
        backgroundColor: ORANGE(0.15 + (0.6 * (i + 1)) / LEVELS),
        borderRadius: '2px',
        overviewRulerColor: i === LEVELS - 1 ? ORANGE(0.9) : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right,
      }),
    );
    this.strongest = vscode.window.createTextEditorDecorationType({
      border: `2px solid ${ORANGE(1)}`,
      borderRadius: '2px',
      fontWeight: 'bold',
    });
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
      const n = view?.attention.length ?? 0;
      const step = Math.min(this.store.step, Math.max(0, n - 1));
      const att = view?.attention[step];
      const buckets: vscode.DecorationOptions[][] = Array.from({ length: LEVELS }, () => []);
      const strongest: vscode.DecorationOptions[] = [];
      const doc = editor.document;
      const what = view
        ? `where ${view.heads.startsWith('top') ? `the ${view.heads}` : view.heads} reads while generating ${stepTokenLabel(view.steps[step] ?? '')} (step ${step + 1} of ${n})`
        : '';
      if (att) {
        const ranges = attentionRanges(ins.data.tokens, ins.data.segments, ins.doc.eol, att.pos, att.w);
        for (const r of expandToWords(doc.getText(), ranges)) {
          const range = new vscode.Range(doc.positionAt(r.start), doc.positionAt(r.end));
          const hover = new vscode.MarkdownString(
            `**Retrieval Lens · needle highlights**  \nOrange shows ${what}; the brighter, the more attention. ` +
              (r.weight >= 0.999
                ? 'This is the **strongest** position at this step.'
                : `This word: ${(100 * r.weight).toFixed(0)}% of the strongest position's attention.`),
          );
          buckets[Math.min(LEVELS - 1, Math.floor(r.weight * LEVELS))].push({ range, hoverMessage: hover });
          if (r.weight >= 0.999) strongest.push({ range });
        }
      }
      this.levels.forEach((d, i) => editor.setDecorations(d, buckets[i]));
      editor.setDecorations(this.strongest, strongest);
      const top = att?.pos[0];
      const where = view && top !== undefined ? whereIs(top, view.needleSpan, view.questionSpan) : 'elsewhere';
      const pos = doc.positionAt(textToDoc(ins.doc.eol, ins.data.needleTextOffset));
      editor.setDecorations(this.needle, [
        {
          range: new vscode.Range(pos, pos),
          renderOptions: { before: { contentText: `needle: ${ins.data.needle.needle}` } },
          hoverMessage:
            `Retrieval Lens inserted this needle here for the run (it is not in your document). Question: ${ins.data.question}` +
            (view && top !== undefined ? `\n\nAt this step the strongest attention is ${WHERE_LABEL[where]}.` : ''),
        },
      ]);
    }
  }

  clear(editor?: vscode.TextEditor): void {
    const eds = editor ? [editor] : vscode.window.visibleTextEditors;
    for (const e of eds) {
      for (const d of this.levels) e.setDecorations(d, []);
      e.setDecorations(this.strongest, []);
      e.setDecorations(this.needle, []);
    }
  }

  dispose(): void {
    this.clear();
    for (const d of this.levels) d.dispose();
    this.strongest.dispose();
    this.needle.dispose();
  }
}
