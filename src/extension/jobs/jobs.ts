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
  /**
   * Work the user did not ask for (highlights after a detection): a status bar spinner and the
   * panel's status line instead of a notification, and it holds nothing up. The worker answers
   * requests in turn, so a job the user starts meanwhile simply runs after it. Skipped when another
   * job is running; silent when cancelled.
   */
  quiet?: boolean;
}

/**
 * Model work under a progress notification with Cancel, one user job at a time, beside at most
 * one quiet job. Progress lines also go to `status` (the panel's status line).
 */
export class Jobs {
  private quiet: AbortController | null = null;
  private readonly lines: { job?: string; quiet?: string } = {};

  constructor(
    private readonly store: Store,
    private readonly log: (line: string) => void,
    private readonly status: (text: string | null) => void = () => undefined,
  ) {}

  get busy(): boolean {
    return this.store.busy !== null;
  }

  /** Stops the quiet job, if any (a new detection makes its result useless). */
  cancelQuiet(): void {
    this.quiet?.abort();
  }

  private line(which: 'job' | 'quiet', text: string | undefined): void {
    this.lines[which] = text;
    this.status(this.lines.job ?? this.lines.quiet ?? null);
  }

  /**
   * Runs `fn` once at a time. Returns undefined when cancelled, failed (the notification was
   * shown already) or, for a quiet job, skipped.
   */
  async run<T>(opts: RunOptions, fn: (hooks: RequestHooks, report: (message: string) => void) => Promise<T>): Promise<T | undefined> {
    const which = opts.quiet ? 'quiet' : 'job';
    if (opts.quiet) {
      if (this.store.busy || this.store.background) return undefined;
      this.store.setBackground(opts.title);
    } else {
      if (this.store.busy) {
        void vscode.window.showWarningMessage(`Retrieval Lens is busy (${this.store.busy}). Wait for it or cancel it first.`);
        return undefined;
      }
      this.store.setBusy(opts.title);
    }
    const ctrl = new AbortController();
    if (opts.quiet) this.quiet = ctrl;
    const location = opts.quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification;
    this.line(which, opts.title);
    try {
      return await vscode.window.withProgress(
        { location, title: `Retrieval Lens: ${opts.title}`, cancellable: !opts.quiet },
        async (progress, token) => {
          token.onCancellationRequested(() => ctrl.abort());
          let lastPct = 0;
          const report = (message: string, increment = 0) => {
            progress.report({ message, increment });
            this.line(which, message ? `${opts.title}: ${message}` : opts.title);
          };
          const onProgress = (p: JobProgress) => {
            const pct = p.stage === 'run' && p.total ? Math.floor((100 * (p.done ?? 0)) / p.total) : lastPct;
            report(describeProgress(p, opts.unit), Math.max(0, pct - lastPct));
            lastPct = Math.max(lastPct, pct);
          };
          return await fn({ onProgress, signal: ctrl.signal }, (message) => report(message));
        },
      );
    } catch (e) {
      const msg = errorMessage(e);
      if (msg === null) {
        if (!opts.quiet) void vscode.window.showInformationMessage(`Retrieval Lens: ${opts.title} cancelled.`);
      } else {
        this.log(`${opts.title} failed: ${(e as Error)?.stack ?? String(e)}`);
        void vscode.window.showErrorMessage(`Retrieval Lens: ${msg}`);
      }
      return undefined;
    } finally {
      this.line(which, undefined);
      if (opts.quiet) {
        if (this.quiet === ctrl) this.quiet = null;
        this.store.setBackground(null);
      } else this.store.setBusy(null);
    }
  }
}
