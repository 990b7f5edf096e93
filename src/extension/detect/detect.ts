// Find retrieval heads: detection on the active editor's text (selection or document), by the
// method of the retrievalLens.method setting (the paper's by default), or one picked for this run.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { RetrievalLensError } from '../../shared/errors.js';
import type { DetectMethod, JobProgress } from '../../worker/protocol.js';
import { command, type Lens } from '../lens.js';
import { docContext, haystackOf, modelName } from '../documents.js';
import { modelRef, readSettings } from '../settings.js';
import { planGrid } from '../state/viewState.js';

export function registerDetect(lens: Lens): void {
  command(lens, 'findRetrievalHeads', () => findRetrievalHeads(lens, readSettings().method));
  command(lens, 'findRetrievalHeadsWithMethod', async () => {
    const pick = await vscode.window.showQuickPick(METHOD_ITEMS, {
      title: 'Find retrieval heads with which method?',
      ignoreFocusOut: true,
    });
    if (pick) await findRetrievalHeads(lens, pick.method);
  });
}

const METHOD_ITEMS: (vscode.QuickPickItem & { method: DetectMethod })[] = [
  { label: 'paper', description: 'default', detail: 'Wu et al.: copy-paste during decoding over the needle grid', method: 'paper' },
  { label: 'qrhead', detail: "QRHead: the question tokens' attention on the needle, no decoding (faster)", method: 'qrhead' },
  {
    label: 'echo',
    detail: 'RazorAttention: attention to the previous occurrence of the current token (random tokens, ignores the text)',
    method: 'echo',
  },
  {
    label: 'induction',
    detail: 'RazorAttention: attention to the token after the previous occurrence (random tokens, ignores the text)',
    method: 'induction',
  },
];

async function findRetrievalHeads(lens: Lens, method: DetectMethod): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showErrorMessage('Retrieval Lens: open a document (or select text in one) to use as the haystack.');
    return;
  }
  const { text, range, selected } = haystackOf(editor);
  if (!text.trim()) {
    void vscode.window.showErrorMessage(
      selected
        ? 'Retrieval Lens: the selection is empty; select some text, or clear the selection to use the whole document.'
        : 'Retrieval Lens: the document is empty; there is no text to hide a needle in.',
    );
    return;
  }
  const settings = readSettings();
  const ref = modelRef(settings, lens.context);
  const ctx = docContext(editor, range, text);
  const docName = path.basename(editor.document.uri.path) || editor.document.uri.toString();
  const runName = `${docName} · ${modelName(ref.spec)}${method === 'paper' ? '' : ` · ${method}`}`;
  const { store } = lens;
  // The map fills in as cases finish: each update is the scores of the cases done so far.
  const showPartial = (p: JobProgress) => {
    if (!p.partial || p.done === undefined || !p.total) return;
    const first = !store.current?.partial;
    store.setRun(p.partial, runName, 'run', ctx, ref.spec, settings.threshold, { done: p.done, total: p.total });
    if (first) lens.panel.show(true);
  };
  // Highlights of the previous run would only be thrown away: let this run have the worker.
  lens.jobs.cancelQuiet();
  let used = '';
  const title = method === 'paper' ? 'Find retrieval heads' : `Find retrieval heads (${method})`;
  const scores = await lens.jobs.run(
    { title, unit: method === 'echo' || method === 'induction' ? 'sequences' : 'cases' },
    async (jobHooks, report) => {
      const hooks = { ...jobHooks, onProgress: (p: JobProgress) => (jobHooks.onProgress?.(p), showPartial(p)) };
      report(`loading ${modelName(ref.spec)}`);
      const count = await lens.worker.request({ kind: 'countTokens', model: ref, text: ctx.eol.text }, hooks);
      // A selection longer than the context is used as the whole document is: the grid reads the
      // start of the text, as much as its longest context holds.
      const plan = planGrid(count.tokens, count.contextLength, settings.lengths, settings.depths, settings.maxNewTokens);
      if (!plan.lengths.length)
        throw new RetrievalLensError(
          'CONTEXT_TOO_LONG',
          `no context length in retrievalLens.lengths fits the model's context of ${count.contextLength} tokens`,
        );
      for (const n of plan.notes) lens.log(`grid: ${n}`);
      if (plan.usedTokens < count.tokens)
        used = ` The grid read about the first ${plan.usedTokens.toLocaleString('en-US')} of ${count.atLeast ? 'over ' : ''}${count.tokens.toLocaleString('en-US')} tokens of the ${selected ? 'selection' : 'document'} (its longest context is ${Math.max(...plan.lengths).toLocaleString('en-US')} tokens).`;
      return lens.worker.request(
        {
          kind: 'detect',
          model: ref,
          haystack: [ctx.eol.text],
          lengths: plan.lengths,
          depths: plan.depths,
          needles: settings.needles,
          maxNewTokens: settings.maxNewTokens,
          threshold: settings.threshold,
          method,
        },
        hooks,
      );
    },
  );
  if (!scores) {
    store.settlePartial();
    return;
  }
  lens.store.setMaskMode(settings.maskMode, settings.maskScope);
  lens.store.setRun(scores, runName, 'run', ctx, ref.spec, settings.threshold);
  lens.panel.show(true);
  const v = lens.store.current!.view;
  void vscode.window.showInformationMessage(
    `Retrieval Lens: ${v.retrievalCount} of ${v.layers * v.heads} heads score ≥ ${v.threshold} (${v.countedCases}/${v.totalCases} cases retrieved the needle).${used}`,
  );
}
