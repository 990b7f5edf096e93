// Needle highlights: one generation on the run's text, then where the selected head (or the top
// retrieval heads) read at each step, in the panel and on the user's own document.
import * as vscode from 'vscode';
import type { InspectResponse } from '../../worker/protocol.js';
import { command, type Lens } from '../lens.js';
import { runDocument } from '../documents.js';
import { EditorHighlights } from './decorations.js';
import { inspectRequest, needleFor } from './inspectRequest.js';

export function registerHighlights(lens: Lens): void {
  const { store, panel } = lens;
  const editor = new EditorHighlights(store);
  let lastRun = store.current;
  store.onChange((events) => {
    if (events.has('highlight') || events.has('run')) editor.render();
    // A new run with a document gets its highlights in the background, quietly.
    if (events.has('run') && store.current !== lastRun) {
      lastRun = store.current;
      // After the listeners of this change have run, not inside them.
      if (store.current?.doc && !store.current.partial) setImmediate(() => void showHighlights(lens, true));
    }
  });
  panel.on('inspect', () => void showHighlights(lens));
  panel.onClose(() => {
    store.clearHighlights();
    editor.clear();
  });
  command(lens, 'showNeedleHighlights', async () => {
    panel.show(true);
    store.setTab('highlights');
    await showHighlights(lens);
  });
  lens.context.subscriptions.push(
    editor,
    vscode.workspace.onDidChangeTextDocument((e) => {
      // Edits move the text under the highlights: drop them rather than paint the wrong words.
      if (store.inspect && e.document.uri.toString() === store.inspect.doc.uri && e.contentChanges.length) {
        store.clearHighlights();
        editor.clear();
      }
    }),
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (store.inspect && d.uri.toString() === store.inspect.doc.uri) store.clearHighlights();
    }),
    vscode.window.onDidChangeVisibleTextEditors(() => editor.render()),
  );
}

/** The quiet highlights run after a detection, while it runs: asking for highlights then waits for it. */
let quietRun: { run: unknown; done: Promise<InspectResponse | undefined> } | null = null;

/** Generates once on the run's text with a needle and keeps every head's attention, for highlights. */
async function showHighlights(lens: Lens, quiet = false): Promise<InspectResponse | undefined> {
  const { store } = lens;
  const doc = runDocument(store);
  if (typeof doc === 'string') {
    if (!quiet) void vscode.window.showErrorMessage(`Retrieval Lens: ${doc}`);
    return undefined;
  }
  const run = store.current!;
  if (quietRun && quietRun.run === run) {
    const data = await quietRun.done;
    if (data || quiet) return data;
  }
  if (quiet) {
    const done = inspect(lens, true);
    quietRun = { run, done };
    void done.finally(() => {
      if (quietRun?.done === done) quietRun = null;
    });
    return done;
  }
  return inspect(lens, false);
}

async function inspect(lens: Lens, quiet: boolean): Promise<InspectResponse | undefined> {
  const { store } = lens;
  const run = store.current!;
  const req = inspectRequest(lens, needleFor(lens, store.regenerate?.question), false);
  const data = await lens.jobs.run({ title: 'Needle highlights', unit: 'tokens', quiet }, (hooks) => lens.worker.request(req, hooks));
  if (!data || store.current !== run) return undefined;
  store.setInspect({ data, doc: run.doc!, modelSpec: req.model.spec });
  if (!store.regenerate) {
    store.setRegenerate({
      question: data.question,
      busy: false,
      plain: data.answer,
      masked: null,
      maskedHeads: [],
      maskMode: store.maskMode,
      maskScope: store.maskScope,
      error: null,
    });
  }
  return data;
}
