// Compare: two runs or score files side by side (correlation, top-k overlap, scatter).
import * as vscode from 'vscode';
import type { ScoresFile } from '../../method/types.js';
import { COMPARE_KS } from '../../method/defaults.js';
import { compareScores } from '../methodApi.js';
import { command, type Lens } from '../lens.js';
import { readScoresUri } from '../scores/scores.js';
import type { Run } from '../state/store.js';
import { compareWarning } from '../state/viewState.js';

export function registerCompare(lens: Lens): void {
  command(lens, 'compareRuns', () => compareRuns(lens));
}

async function compareRuns(lens: Lens): Promise<void> {
  type Item = vscode.QuickPickItem & { run?: Run; open?: true };
  const items = (): Item[] => [
    ...lens.store.runs.map((r) => ({ label: r.name, description: `${r.view.modelName} · ${r.view.layers}×${r.view.heads}`, run: r })),
    { label: '$(folder-opened) Open a scores file…', open: true as const },
  ];
  const chosen: { name: string; scores: ScoresFile }[] = [];
  for (const which of ['first', 'second']) {
    const pick = await vscode.window.showQuickPick(
      items().filter((i) => !chosen.some((c) => c.name === i.label)),
      { title: `Compare runs: ${which} run`, ignoreFocusOut: true },
    );
    if (!pick) return;
    if (pick.run) chosen.push({ name: pick.run.name, scores: pick.run.scores });
    else {
      const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Score files': ['json'] } }))?.[0];
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
  try {
    lens.store.setCompare(buildCompare(a, b));
  } catch (e) {
    void vscode.window.showErrorMessage(`Retrieval Lens: cannot compare: ${(e as Error).message}`);
    return;
  }
  lens.panel.show(true);
}

function buildCompare(a: { name: string; scores: ScoresFile }, b: { name: string; scores: ScoresFile }) {
  const r = compareScores(a.scores, b.scores, { ks: COMPARE_KS });
  const points: { key: string; a: number; b: number }[] = [];
  const L = Math.min(a.scores.model.layers, b.scores.model.layers);
  const H = Math.min(a.scores.model.heads, b.scores.model.heads);
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++) points.push({ key: `${l}-${h}`, a: a.scores.scores[l][h], b: b.scores.scores[l][h] });
  const sameShape = a.scores.model.layers === b.scores.model.layers && a.scores.model.heads === b.scores.model.heads;
  return {
    a: a.name,
    b: b.name,
    pearson: r.pearson,
    spearman: r.spearman,
    overlap: r.topK.map((t: { k: number; shared: number; fraction: number }) => ({ k: t.k, shared: t.shared, fraction: t.fraction })),
    points,
    note: sameShape
      ? null
      : `different shapes (${a.scores.model.layers}×${a.scores.model.heads} vs ${b.scores.model.layers}×${b.scores.model.heads}); compared on the shared heads`,
    warning: compareWarning(a.scores.model, b.scores.model),
  };
}
