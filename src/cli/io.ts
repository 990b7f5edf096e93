// What a command may touch of the outside world; tests pass their own.
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on Ctrl-C; commands stop between decoding steps and write nothing partial. */
  signal: AbortSignal;
}

export type Command = (argv: string[], io: CliIO) => Promise<number>;
