// Worker runs under a progress notification with Cancel; errors become notifications and the UI
// always comes back (busy flag cleared, nothing left spinning).
import * as vscode from 'vscode';
import { WorkerError, type RequestHooks } from '../../worker/client.js';
import { RetrievalLensError } from '../../shared/errors.js';
import type { JobProgress } from '../../worker/protocol.js';
import type { Store } from '../state/store.js';

export function formatEta(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s left`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s left` : `${Math.floor(m / 60)}h ${m % 60}m left`;
}

export function describeProgress(p: JobProgress, unit: string): string {
  if (p.stage === 'load') return p.message ?? 'loading the model';
  const parts = [];
  if (p.total) parts.push(`${p.done ?? 0}/${p.total} ${unit}`);
  const eta = formatEta(p.etaMs);
  if (eta) parts.push(eta);
  if (p.message) parts.push(p.message);
  return parts.join(' · ');
}

/** A user-facing message for an error from a run, or null for a cancel. */
export function errorMessage(e: unknown): string | null {
  if ((e instanceof WorkerError || e instanceof RetrievalLensError) && e.code === 'CANCELLED') return null;
  if (e instanceof WorkerError || e instanceof RetrievalLensError) return e.message;
  return `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
}

export interface RunOptions {
  title: string;
  unit: string;
  /** Notification with Cancel (long runs) or a quiet status bar spinner. */
  location?: vscode.ProgressLocation;
}

/** Model work, one job at a time, each under a progress notification with Cancel. */
export class Jobs {
  constructor(
    private readonly store: Store,
    private readonly log: (line: string) => void,
  ) {}

  get busy(): boolean {
    return this.store.busy !== null;
  }

  /**
   * Runs `fn` once at a time. Returns undefined when cancelled or failed (the notification was
   * shown already).
   */
  async run<T>(opts: RunOptions, fn: (hooks: RequestHooks, report: (message: string) => void) => Promise<T>): Promise<T | undefined> {
    if (this.store.busy) {
      void vscode.window.showWarningMessage(`Retrieval Lens is busy (${this.store.busy}). Wait for it or cancel it first.`);
      return undefined;
    }
    this.store.setBusy(opts.title);
    const location = opts.location ?? vscode.ProgressLocation.Notification;
    try {
      return await vscode.window.withProgress(
        { location, title: `Retrieval Lens: ${opts.title}`, cancellable: location === vscode.ProgressLocation.Notification },
        async (progress, token) => {
          const ctrl = new AbortController();
          token.onCancellationRequested(() => ctrl.abort());
          let lastPct = 0;
          const onProgress = (p: JobProgress) => {
            const pct = p.stage === 'run' && p.total ? Math.floor((100 * (p.done ?? 0)) / p.total) : lastPct;
            progress.report({ message: describeProgress(p, opts.unit), increment: Math.max(0, pct - lastPct) });
            lastPct = Math.max(lastPct, pct);
          };
          return await fn({ onProgress, signal: ctrl.signal }, (message) => progress.report({ message }));
        },
      );
    } catch (e) {
      const msg = errorMessage(e);
      if (msg === null) void vscode.window.showInformationMessage(`Retrieval Lens: ${opts.title} cancelled.`);
      else {
        this.log(`${opts.title} failed: ${(e as Error)?.stack ?? String(e)}`);
        void vscode.window.showErrorMessage(`Retrieval Lens: ${msg}`);
      }
      return undefined;
    } finally {
      this.store.setBusy(null);
    }
  }
}
