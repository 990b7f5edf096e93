// The user's text as the features see it: the haystack of a command, where it sits in the
// document, whether a run's document is still there unchanged, and where saved files go.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { normalizeEol } from './highlights/offsets.js';
import type { DocContext, Store } from './state/store.js';

export const modelName = (spec: string): string => path.basename(spec.replace(/[\\/]+$/, '')) || spec;

/** The haystack of a command: the selection, or the whole document when nothing is selected. */
export function haystackOf(editor: vscode.TextEditor): { text: string; range: vscode.Range; selected: boolean } {
  const sel = editor.selection;
  if (!sel.isEmpty) return { text: editor.document.getText(sel), range: new vscode.Range(sel.start, sel.end), selected: true };
  const doc = editor.document;
  const range = new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length));
  return { text: doc.getText(), range, selected: false };
}

export function docContext(editor: vscode.TextEditor, range: vscode.Range, raw: string): DocContext {
  const start = editor.document.offsetAt(range.start);
  return {
    uri: editor.document.uri.toString(),
    version: editor.document.version,
    rangeStart: start,
    rangeEnd: editor.document.offsetAt(range.end),
    eol: normalizeEol(raw, start),
  };
}

/** The document the current run was made on, still open and unchanged; else why not. */
export function runDocument(store: Store): vscode.TextDocument | string {
  const run = store.current;
  if (!run?.doc)
    return 'needle highlights need a run on a document: use "Find retrieval heads for this context" first (an opened scores file has no text).';
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === run.doc!.uri);
  if (!doc) return 'the document of this run is closed; run "Find retrieval heads for this context" again.';
  if (doc.version !== run.doc.version) return 'the document changed since the run; run "Find retrieval heads for this context" again.';
  return doc;
}

export function defaultSaveUri(name: string): vscode.Uri | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0];
  return ws ? vscode.Uri.joinPath(ws.uri, name) : undefined;
}

/** Asks where to save and writes; says where it went. */
export async function saveAs(name: string, filters: Record<string, string[]>, bytes: Uint8Array, what: string): Promise<void> {
  const dest = await vscode.window.showSaveDialog({ defaultUri: defaultSaveUri(name), filters });
  if (!dest) return;
  await vscode.workspace.fs.writeFile(dest, bytes);
  void vscode.window.showInformationMessage(`Retrieval Lens: ${what} written to ${dest.fsPath}`);
}
