// KV what-if: NIAH accuracy when only the top-k heads' KV heads keep the whole cache and every
// other head keeps a sink and a recent window, against as many random KV heads kept whole, on the
// ablation's fresh cases (the bundled haystack); plotted against the KV memory each policy keeps.
import * as vscode from 'vscode';
import { command, type Lens } from '../lens.js';
import { saveAs } from '../documents.js';
import { modelRef, readSettings } from '../settings.js';
import { parseIntList } from '../state/viewState.js';
import { toKvWhatifView } from '../state/workViews.js';

const K_CHOICES = ['1, 2, 4, 8', '1, 2, 3', '2', '1, 2, 4, 8, 16'];
// The organism's question with its frame takes about 40 tokens: a window under that cuts the
// question off for the restricted heads (README, "Putting heads to work").
const WINDOWS = ['64', '32', '128', '256'];

export function registerKvWhatif(lens: Lens): void {
  command(lens, 'kvWhatif', () => kvWhatif(lens));
  lens.panel.on('exportJson', (m) => {
    const r = lens.store.kvWhatif;
    if (m.figure === 'kvwhatif' && r)
      void saveAs('kv-whatif.json', { JSON: ['json'] }, Buffer.from(JSON.stringify(r.file, null, 1), 'utf8'), 'KV what-if');
  });
}

async function kvWhatif(lens: Lens): Promise<void> {
  const run = lens.store.current;
  if (!run) {
    void vscode.window.showErrorMessage(
      'Retrieval Lens: the KV what-if needs retrieval scores. Find retrieval heads or open a scores file first.',
    );
    return;
  }
  const kPick = await vscode.window.showQuickPick(
    K_CHOICES.map((label) => ({ label })),
    {
      title: 'KV what-if: top-k heads whose KV heads keep the whole cache',
      placeHolder: 'each k against as many random KV heads kept whole',
      ignoreFocusOut: true,
    },
  );
  if (!kPick) return;
  const total = run.view.layers * run.view.heads;
  const ks = (parseIntList(kPick.label) ?? []).filter((k) => k <= total);
  if (!ks.length) {
    void vscode.window.showErrorMessage(`Retrieval Lens: k must be at most the number of heads (${total}).`);
    return;
  }
  const wPick = await vscode.window.showQuickPick(
    WINDOWS.map((label) => ({ label, description: label === '64' ? 'recent positions every other head keeps (plus a 4-token sink)' : '' })),
    { title: 'KV what-if: window of the restricted heads', ignoreFocusOut: true },
  );
  if (!wPick) return;
  const s = readSettings();
  const ref = modelRef(s, lens.context);
  const window = Number(wPick.label);
  const result = await lens.jobs.run({ title: 'KV what-if', unit: 'answers' }, (hooks) =>
    lens.worker.request(
      {
        kind: 'kvWhatif',
        model: ref,
        scores: run.scores,
        ks,
        window,
        sink: 4,
        randomTrials: 1,
        seed: 1,
        lengths: s.lengths,
        depths: s.depths,
        needles: s.needles,
        maxNewTokens: s.maxNewTokens,
      },
      hooks,
    ),
  );
  if (!result) return;
  lens.store.setKvWhatif(toKvWhatifView(result, `${run.name} · k=${ks.join(',')} · window ${window}`), result);
  lens.panel.show(true);
}
