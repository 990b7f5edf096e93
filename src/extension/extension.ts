// Activation: builds the store, the model worker, the job runner and the panel, then lets each
// feature register its commands, views and listeners. Model work runs in the forked worker
// (dist/worker.js), never in the extension host.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { WorkerClient } from '../worker/client.js';
import { Store } from './state/store.js';
import { Jobs } from './jobs/jobs.js';
import { Panel } from './panel/panel.js';
import { registerFigures } from './panel/figures.js';
import { command, type Lens } from './lens.js';
import { registerTree } from './tree/tree.js';
import { registerDetect } from './detect/detect.js';
import { registerModel } from './detect/model.js';
import { registerScores } from './scores/scores.js';
import { registerMasks } from './masks/masks.js';
import { registerRegenerate } from './masks/regenerate.js';
import { registerHighlights } from './highlights/highlights.js';
import { registerAblation } from './ablation/ablation.js';
import { registerCompare } from './compare/compare.js';
import { registerKvWhatif } from './work/kvWhatif.js';
import { registerAttribute } from './work/attribute.js';

export function activate(context: vscode.ExtensionContext) {
  const out = vscode.window.createOutputChannel('Retrieval Lens');
  const log = (line: string) => out.appendLine(line);
  const store = new Store();
  const worker = new WorkerClient({ workerPath: path.join(context.extensionPath, 'dist', 'worker.js'), log: (l) => log(`[worker] ${l}`) });
  const panel = new Panel(context.extensionUri, store, log);
  const lens: Lens = { context, store, worker, jobs: new Jobs(store, log, (text) => panel.progress(text)), panel, log };
  context.subscriptions.push(out, { dispose: () => worker.dispose() }, { dispose: () => panel.dispose() });

  for (const register of [
    registerTree,
    registerMasks,
    registerDetect,
    registerModel,
    registerScores,
    registerHighlights,
    registerRegenerate,
    registerAblation,
    registerCompare,
    registerKvWhatif,
    registerAttribute,
    registerFigures,
  ])
    register(lens);
  command(lens, 'cancelAndRestartWorker', () => worker.dispose());
  return { store, worker };
}

export function deactivate() {}
