// What a command may touch of the outside world; tests pass their own.
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on Ctrl-C; commands stop between decoding steps and write nothing partial. */
  signal: AbortSignal;
  /** stderr is a terminal: progress redraws one line in place (else one plain line per case). */
  stderrIsTTY?: boolean;
  /** The terminal's width, for the progress line. */
  columns?: number;
}

export type Command = (argv: string[], io: CliIO) => Promise<number>;
