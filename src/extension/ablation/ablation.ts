// Ablation: mask the top-k retrieval heads and k random heads, measure NIAH accuracy, plot it.
import * as vscode from 'vscode';
import { command, type Lens } from '../lens.js';
import { saveAs } from '../documents.js';
import { modelRef, readSettings } from '../settings.js';
import { parseIntList, planGrid, toAblationView } from '../state/viewState.js';

export function registerAblation(lens: Lens): void {
  command(lens, 'runAblation', () => runAblation(lens));
  lens.panel.on('exportJson', (m) => {
    if (m.figure !== 'ablation') return;
    const last = lens.store.ablations.at(-1);
    if (last) void saveAs('ablation.json', { JSON: ['json'] }, Buffer.from(JSON.stringify(last.file, null, 1), 'utf8'), 'ablation');
  });
}

const K_CHOICES = ['1, 2, 4, 8', '1, 2, 3', '1, 2, 4, 8, 16', '5, 10, 20, 30'];

async function runAblation(lens: Lens): Promise<void> {
  const run = lens.store.current;
  if (!run) {
    void vscode.window.showErrorMessage(
      'Retrieval Lens: ablation needs retrieval scores. Find retrieval heads or open a scores file first.',
    );
    return;
  }
  const kPick = await vscode.window.showQuickPick([...K_CHOICES.map((label) => ({ label })), { label: 'Other…' }], {
    title: 'Run ablation: numbers of heads to mask (k)',
    ignoreFocusOut: true,
    placeHolder: 'top-k retrieval heads vs k random heads',
  });
  if (!kPick) return;
  let ks = parseIntList(kPick.label);
  if (kPick.label === 'Other…') {
    const text = await vscode.window.showInputBox({
      title: 'k values',
      ignoreFocusOut: true,
      placeHolder: '1, 2, 4',
      validateInput: (v) => (parseIntList(v) ? null : 'Positive whole numbers separated by commas'),
    });
    if (!text) return;
    ks = parseIntList(text);
  }
  const total = run.view.layers * run.view.heads;
  ks = (ks ?? []).filter((k) => k < total);
  if (!ks.length) {
    void vscode.window.showErrorMessage(`Retrieval Lens: k must be below the number of heads (${total}).`);
    return;
  }
  const tPick = await vscode.window.showQuickPick(
    ['1', '3', '5'].map((label) => ({ label, description: label === '3' ? 'random trials per k' : '' })),
    { title: 'Run ablation: random trials per k', ignoreFocusOut: true },
  );
  if (!tPick) return;
  const s = readSettings();
  const doc = run.doc ? run.doc.eol.text : vscode.window.activeTextEditor?.document.getText();
  if (!doc?.trim()) {
    void vscode.window.showErrorMessage(
      'Retrieval Lens: ablation needs a haystack text: open a document (this scores file has none of its own).',
    );
    return;
  }
  const ref = modelRef(s, lens.context);
  if (run.scores.model.layers && run.source === 'file') lens.log(`ablation: scores from ${run.name} applied to ${ref.spec}`);
  const acc = run.scores.summary?.accuracy;
  const file = await lens.jobs.run({ title: 'Ablation', unit: 'cases' }, async (hooks) => {
    const count = await lens.worker.request({ kind: 'countTokens', model: ref, text: doc }, hooks);
    const plan = planGrid(
      count.tokens,
      count.contextLength,
      acc?.lengths?.length ? acc.lengths : s.lengths,
      acc?.depths?.length ? acc.depths : s.depths,
      s.maxNewTokens,
    );
    return lens.worker.request(
      {
        kind: 'ablate',
        model: ref,
        scores: run.scores,
        ks: ks!,
        randomTrials: Number(tPick.label),
        seed: 1,
        haystack: [doc],
        lengths: plan.lengths,
        depths: plan.depths,
        needles: s.needles,
        maxNewTokens: s.maxNewTokens,
        maskMode: lens.store.maskMode,
        maskScope: lens.store.maskScope,
      },
      hooks,
    );
  });
  if (!file) return;
  const view = toAblationView(file, `${run.name} · k=${ks.join(',')} · ${lens.store.maskMode}`);
  lens.store.addAblation({ view, file });
  lens.panel.show(true);
}
