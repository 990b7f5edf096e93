// "Where did this answer come from?": answer a question about the selection (or the document) and
// show, per answer token, the sentences the retrieval heads read, highlighted in the editor; with
// the answer's grounding score. Offsets come back in UTF-16 units of the exact text sent (CRLF
// kept), so they map to the document by adding the range's start offset.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { command, type Lens } from '../lens.js';
import { haystackOf } from '../documents.js';
import { modelRef, readSettings } from '../settings.js';
import { toAttribution } from '../state/workViews.js';
import type { Attribution } from '../state/store.js';

// Three strengths of highlight: a source's share of the token's retrieval attention.
const LEVELS = [
  { min: 0.5, alpha: 0.45 },
  { min: 0.2, alpha: 0.28 },
  { min: 0, alpha: 0.14 },
];

export function registerAttribute(lens: Lens): void {
  const { store } = lens;
  const types = LEVELS.map((l) =>
    vscode.window.createTextEditorDecorationType({
      backgroundColor: `rgba(64, 160, 255, ${l.alpha})`,
      overviewRulerColor: `rgba(64, 160, 255, ${l.alpha + 0.3})`,
      overviewRulerLane: vscode.OverviewRulerLane.Right,
    }),
  );
  const marker = vscode.window.createTextEditorDecorationType({
    before: { color: new vscode.ThemeColor('editorCodeLens.foreground'), fontStyle: 'italic', margin: '0 0.6em 0 0' },
  });
  lens.context.subscriptions.push(...types, marker);
  let lastShown = '';
  const paint = () => {
    const a = store.attribution;
    for (const ed of vscode.window.visibleTextEditors) {
      const mine = a && ed.document.uri.toString() === a.uri && ed.document.version === a.version;
      const spans = mine ? (a.view.selected === null ? a.all : (a.tokenSources[a.view.selected] ?? [])) : [];
      const range = (s: { start: number; end: number }) => new vscode.Range(ed.document.positionAt(s.start), ed.document.positionAt(s.end));
      types.forEach((t, i) => {
        const lo = LEVELS[i].min;
        const hi = i ? LEVELS[i - 1].min : Infinity;
        ed.setDecorations(
          t,
          spans
            .filter((s) => s.weight >= lo && s.weight < hi)
            .map((s) => ({
              range: range(s),
              hoverMessage: `Retrieval Lens source: ${(100 * s.weight).toFixed(0)}% of the retrieval heads' attention`,
            })),
        );
      });
      const top = spans[0];
      const label = a && a.view.selected !== null ? `token ${JSON.stringify(a.view.tokens[a.view.selected]?.text ?? '')}` : 'answer';
      ed.setDecorations(
        marker,
        top
          ? [
              {
                range: range({ start: top.start, end: top.start }),
                renderOptions: { before: { contentText: `source of ${label} (${(100 * top.weight).toFixed(0)}%):` } },
              },
            ]
          : [],
      );
      // Bring the strongest source into view once per selection, not on every redraw.
      const key = `${a?.uri}#${a?.view.selected}#${top?.start}`;
      if (mine && top && key !== lastShown) {
        lastShown = key;
        const line = ed.document.positionAt(top.start).line;
        ed.revealRange(new vscode.Range(line, 0, line, 0), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      }
    }
  };
  store.onChange((events) => {
    if (events.has('attribution')) paint();
  });
  lens.context.subscriptions.push(vscode.window.onDidChangeVisibleTextEditors(paint), vscode.workspace.onDidChangeTextDocument(paint));
  lens.panel.on('selectAttributionToken', (m) => store.selectAttributionToken(m.index));
  command(lens, 'attributeAnswer', () => attributeAnswer(lens));
}

async function attributeAnswer(lens: Lens): Promise<void> {
  const { store } = lens;
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showErrorMessage('Retrieval Lens: open a document (or select text in one) to ask about.');
    return;
  }
  const run = store.current;
  if (!run) {
    void vscode.window.showErrorMessage(
      'Retrieval Lens: attribution reads the retrieval heads: find retrieval heads or open a scores file first.',
    );
    return;
  }
  const { text, range, selected } = haystackOf(editor);
  if (!text.trim()) {
    void vscode.window.showErrorMessage(`Retrieval Lens: the ${selected ? 'selection' : 'document'} is empty.`);
    return;
  }
  const question = await vscode.window.showInputBox({
    title: 'Where did this answer come from? Question about the text',
    placeHolder: "What is Drembo's pet's name?",
    value: store.attribution?.view.question ?? '',
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? null : 'Ask a question about the text'),
  });
  if (!question?.trim()) return;
  const doc = editor.document;
  const uri = doc.uri.toString();
  const version = doc.version;
  const r = await lens.jobs.run({ title: 'Where did this answer come from?', unit: 'tokens' }, (hooks) =>
    lens.worker.request(
      {
        kind: 'attribute',
        model: modelRef(readSettings(), lens.context),
        text,
        question,
        scores: run.scores,
        maxNewTokens: readSettings().maxNewTokens,
      },
      hooks,
    ),
  );
  if (!r) return;
  const name = path.basename(doc.uri.path) || uri;
  const a = toAttribution(r, question, name, text, doc.offsetAt(range.start), range.start.line);
  const attribution: Attribution = { ...a, uri, version };
  store.setAttribution(attribution);
  lens.panel.show(true);
  if (r.grounding.low)
    void vscode.window.showWarningMessage(
      `Retrieval Lens: low grounding (${(100 * r.grounding.score).toFixed(0)}%): the retrieval heads mostly did not read the ${selected ? 'selection' : 'document'} for this answer.`,
    );
}
