// What every feature gets at activation: the store, the model worker, the job runner, the panel.
// Each feature folder exports one register(lens) that adds its commands, views and listeners.
import * as vscode from 'vscode';
import type { WorkerClient } from '../worker/client.js';
import type { Store } from './state/store.js';
import type { Jobs } from './jobs/jobs.js';
import type { Panel } from './panel/panel.js';

export interface Lens {
  context: vscode.ExtensionContext;
  store: Store;
  worker: WorkerClient;
  jobs: Jobs;
  panel: Panel;
  log: (line: string) => void;
}

/** Registers `retrievalLens.<id>`; it is disposed with the extension. */
export function command(lens: Lens, id: string, fn: (...args: never[]) => unknown): void {
  // VS Code passes command arguments untyped; each handler checks what it receives.
  lens.context.subscriptions.push(vscode.commands.registerCommand(`retrievalLens.${id}`, fn as (...args: unknown[]) => unknown));
}

/** Sets a `when`-clause context key for menus and welcome views. */
export function setWhen(key: string, value: boolean): void {
  void vscode.commands.executeCommand('setContext', `retrievalLens.${key}`, value);
}
