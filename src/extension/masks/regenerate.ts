// Mask and re-generate: the answer with no masks and with the current masks, on the same prompt;
// with DeCoRe on, also the contrastive answer (the model against itself with the masked heads, or
// with no masks its retrieval heads, zeroed at every position: DeCoRe's way).
import * as vscode from 'vscode';
import { headId } from '../../shared/webviewProtocol.js';
import { command, type Lens } from '../lens.js';
import { runDocument } from '../documents.js';
import { modelRef, readSettings } from '../settings.js';
import { inspectRequest, needleFor } from '../highlights/inspectRequest.js';
import { retrievalHeads } from '../state/viewState.js';

export function registerRegenerate(lens: Lens): void {
  const { store, panel } = lens;
  panel.on('regenerate', (m) => void regenerate(lens, m.question));
  command(lens, 'regenerate', async () => {
    const q = await vscode.window.showInputBox({
      title: 'Question to ask about the text',
      ignoreFocusOut: true,
      value: store.regenerate?.question ?? store.inspect?.data.question ?? '',
    });
    if (q !== undefined) await regenerate(lens, q);
  });
}

async function regenerate(lens: Lens, question: string): Promise<void> {
  const { store } = lens;
  const doc = runDocument(store);
  if (typeof doc === 'string') {
    void vscode.window.showErrorMessage(`Retrieval Lens: ${doc}`);
    return;
  }
  const run = store.current!;
  const needle = needleFor(lens, question);
  const masks = store.masks.list();
  const decoreHeads = store.decore ? (masks.length ? masks : retrievalHeads(run.view)) : [];
  if (store.decore && !decoreHeads.length) {
    void vscode.window.showErrorMessage(
      `Retrieval Lens: DeCoRe needs heads to contrast: mask some, or find heads scoring ≥ ${run.view.threshold}.`,
    );
    return;
  }
  const base = {
    question: needle.question,
    busy: true,
    plain: null,
    masked: null,
    maskedHeads: masks.map(headId),
    maskMode: store.maskMode,
    maskScope: store.maskScope,
    error: null,
    decore: null,
    decoreHeads: decoreHeads.map(headId),
  };
  store.setRegenerate(base);
  const out = await lens.jobs.run(
    { title: masks.length ? `Re-generate with ${masks.length} heads masked` : 'Re-generate', unit: 'tokens' },
    async (hooks) => {
      const plain = await lens.worker.request(inspectRequest(lens, needle, false), hooks);
      const masked = masks.length ? await lens.worker.request(inspectRequest(lens, needle, true), hooks) : null;
      // The same prompt the other two answers were generated from.
      const decore = decoreHeads.length
        ? await lens.worker.request(
            {
              kind: 'decore',
              model: modelRef(readSettings(), lens.context),
              prompt: plain.prompt,
              heads: decoreHeads,
              mode: 'zero',
              scope: 'all',
              maxNewTokens: readSettings().maxNewTokens,
            },
            hooks,
          )
        : null;
      return { plain, masked, decore };
    },
  );
  if (store.current !== run) return;
  if (!out) store.setRegenerate({ ...base, busy: false, error: 'The run was cancelled or failed.' });
  else
    store.setRegenerate(
      {
        ...base,
        busy: false,
        plain: out.plain.answer,
        masked: out.masked ? out.masked.answer : null,
        decore: out.decore ? out.decore.text.replace(/\n+$/, '') : null,
      },
      { data: out.plain, doc: run.doc!, modelSpec: modelRef(readSettings(), lens.context).spec },
    );
}
