// Compare: two runs or score files (ours, the paper's, DeCoRe's, HeadKV's, DuoAttention's TSV,
// QRHead's lists) side by side: correlations, top-k overlap, scatter, the heads they disagree on,
// at query-head or KV-head level.
import * as vscode from 'vscode';
import { command, type Lens } from '../lens.js';
import { readScoresUri, SCORE_FILE_FILTERS } from '../scores/scores.js';
import type { CompareSource, Run } from '../state/store.js';
import { compareLevelFor, toCompareView } from '../state/workViews.js';

export function registerCompare(lens: Lens): void {
  command(lens, 'compareRuns', () => compareRuns(lens));
  lens.panel.on('setCompareLevel', (m) => {
    const [a, b] = lens.store.compareSources;
    if (a && b) show(lens, a, b, m.level, m.aggregation);
  });
}

async function compareRuns(lens: Lens): Promise<void> {
  type Item = vscode.QuickPickItem & { run?: Run; open?: true };
  const items = (): Item[] => [
    ...lens.store.runs.map((r) => ({
      label: r.name,
      description: `${r.view.modelName} · ${r.view.layers}×${r.view.heads} · ${r.view.origin ?? ''}`,
      run: r,
    })),
    { label: '$(folder-opened) Open a scores file…', open: true as const },
  ];
  const chosen: CompareSource[] = [];
  for (const which of ['first', 'second']) {
    const pick = await vscode.window.showQuickPick(
      items().filter((i) => !chosen.some((c) => c.name === i.label)),
      { title: `Compare runs: ${which} run`, ignoreFocusOut: true },
    );
    if (!pick) return;
    if (pick.run) chosen.push({ name: pick.run.name, scores: pick.run.scores });
    else {
      const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: SCORE_FILE_FILTERS }))?.[0];
      if (!uri) return;
      try {
        const name = uri.path.split('/').pop() ?? uri.toString();
        chosen.push({ name, scores: await readScoresUri(uri, name) });
      } catch (e) {
        void vscode.window.showErrorMessage(`Retrieval Lens: not a valid scores file: ${(e as Error).message}`);
        return;
      }
    }
  }
  const [a, b] = chosen;
  if (show(lens, a, b, compareLevelFor(a.scores, b.scores, 'query'), 'max')) lens.panel.show(true);
}

function show(lens: Lens, a: CompareSource, b: CompareSource, level: 'query' | 'kv', aggregation: 'max' | 'mean'): boolean {
  try {
    lens.store.setCompare(toCompareView(a, b, compareLevelFor(a.scores, b.scores, level), aggregation), [a, b]);
    return true;
  } catch (e) {
    void vscode.window.showErrorMessage(`Retrieval Lens: cannot compare: ${(e as Error).message}`);
    return false;
  }
}
