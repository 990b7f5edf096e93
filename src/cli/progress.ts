// Progress of a long run (detect, ablate) on stderr. On a terminal: one line redrawn in place, with
// a bar, cases done/total, the ETA and the case running now. Piped or redirected (a log file, a
// CI job, a test): one plain line per finished case, "[12/30] 40% ETA 1m05s  detail", since
// carriage returns and escape codes would litter a log.
import type { CliIO } from './io.js';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

const percent = (done: number, total: number) => (total ? Math.round((100 * done) / total) : 100);

/** The piped form: one line per finished case. */
export function progressLine(done: number, total: number, etaMs: number, detail = ''): string {
  return `[${done}/${total}] ${percent(done, total)}% ETA ${formatDuration(etaMs)}${detail ? '  ' + detail : ''}\n`;
}

/** A bar of `width` cells, filled in proportion to done/total. */
export function progressBar(done: number, total: number, width = 20): string {
  const filled = total ? Math.min(width, Math.floor((width * done) / total)) : width;
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

export interface ProgressState {
  done: number;
  total: number;
  /** Undefined until a first case has finished (no rate to estimate from). */
  etaMs?: number;
  /** What runs now ("1984 tokens, depth 50%, 3 needles"). */
  current?: string;
  /** Counts worth seeing as the run goes ("2 failed"). */
  tally?: string;
  /** Once every case is done: how long the run took, shown instead of the ETA. */
  elapsedMs?: number;
}

/** The terminal form: bar, cases, percent, ETA, current case; cut to the terminal's width. */
export function ttyProgressLine(s: ProgressState, columns = 80): string {
  const eta =
    s.elapsedMs !== undefined && s.total > 0 && s.done >= s.total
      ? `done in ${formatDuration(s.elapsedMs)}`
      : s.etaMs === undefined
        ? 'ETA --'
        : `ETA ${formatDuration(s.etaMs)}`;
  const parts = [`${progressBar(s.done, s.total)} ${s.done}/${s.total} ${percent(s.done, s.total)}%`, eta, s.current, s.tally].filter(
    Boolean,
  );
  const line = parts.join(' · ');
  // One column spare: writing into the last one wraps the cursor on some terminals.
  const max = Math.max(10, columns - 1);
  return [...line].length > max ? [...line].slice(0, max - 1).join('') + '…' : line;
}

/** Whether stderr is a terminal that can redraw a line in place. */
export function isInteractive(io: CliIO): boolean {
  return Boolean(io.stderrIsTTY) && process.env.TERM !== 'dumb';
}

/**
 * A run's progress reporter. `start` names the case that runs now (redrawn at once on a terminal),
 * `update` reports a finished case, `end` leaves the last state on its own line. `note` prints a
 * message without tearing the line (e.g. a warning during the run).
 */
export class ProgressReporter {
  private state: ProgressState = { done: 0, total: 0 };
  private updatedAt = 0;
  private startedAt: number | undefined;
  private drawn = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly io: CliIO,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = isInteractive(io);
  }

  start(current: string, counts?: { done: number; total: number }): void {
    this.startedAt ??= this.now();
    this.state.current = current;
    if (counts) Object.assign(this.state, counts);
    if (!this.tty) return;
    this.draw();
    // Redrawn every second so the ETA moves during a long case; unref'd: never keeps the process up.
    this.timer ??= setInterval(() => this.draw(), 1000);
    this.timer.unref?.();
  }

  /** A finished case; `detail` is the piped line's text about it. */
  update(p: { done: number; total: number; etaMs: number }, detail = '', tally?: string): void {
    this.state = { ...this.state, done: p.done, total: p.total, etaMs: p.etaMs, tally };
    if (p.done >= p.total) {
      this.state.current = undefined;
      this.state.elapsedMs = this.now() - (this.startedAt ?? this.updatedAt);
    }
    this.updatedAt = this.now();
    if (this.tty) this.draw();
    else this.io.stderr(progressLine(p.done, p.total, p.etaMs, detail));
  }

  note(text: string): void {
    if (this.tty && this.drawn) this.io.stderr('\r\x1b[2K');
    this.io.stderr(text.endsWith('\n') ? text : text + '\n');
    if (this.tty && this.drawn) this.draw();
  }

  /** Stops redrawing and leaves the line as it stands (also after an error or Ctrl-C). */
  end(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.tty || !this.drawn) return;
    this.io.stderr('\n');
    this.drawn = false;
  }

  private draw(): void {
    // The ETA counts down between finished cases instead of standing still for a long case.
    const eta = this.state.etaMs === undefined ? undefined : Math.max(0, this.state.etaMs - (this.now() - this.updatedAt));
    this.io.stderr('\r\x1b[2K' + ttyProgressLine({ ...this.state, etaMs: eta }, this.io.columns ?? 80));
    this.drawn = true;
  }
}
