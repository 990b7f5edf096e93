// `retrieval-lens <command>`: dispatch, Ctrl-C handling and error reporting. Errors a user can
// act on print as one line (`error: ...`) and exit 1; only unexpected failures show a stack.
import { RetrievalLensError } from '../engine/errors.js';
import { UsageError } from './args.js';
import type { Command, CliIO } from './io.js';

const commands: Record<string, { load: () => Promise<{ run: Command }>; summary: string }> = {
  inspect: { load: () => import('./commands/inspect.js'), summary: 'architecture, sizes and attention nodes of a model' },
  generate: { load: () => import('./commands/generate.js'), summary: 'generate text, optionally with heads masked and attention argmax per step' },
  detect: { load: () => import('./commands/detect.js'), summary: 'find retrieval heads with the needle-in-a-haystack grid (Wu et al.)' },
  ablate: { load: () => import('./commands/ablate.js'), summary: 'NIAH accuracy with top-k retrieval heads vs k random heads masked' },
  analyze: { load: () => import('./commands/analyze.js'), summary: 'summarise or compare score files (ours or the paper\'s head_score JSON)' },
  merge: { load: () => import('./commands/merge.js'), summary: 'combine the parts of a grid run with detect --shard i/n into one scores file' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: retrieval-lens <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "retrieval-lens <command> --help" for a command's options.\n`;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    io.stderr(`error: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await cmd.load()).run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`error: ${e.message}\nRun "retrieval-lens ${name} --help" for usage.\n`);
      return 2;
    }
    if (e instanceof RetrievalLensError) {
      if (e.code === 'CANCELLED') {
        io.stderr('cancelled; nothing was written\n');
        return 130;
      }
      io.stderr(`error: ${e.message}\n`);
      return 1;
    }
    io.stderr(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}

/** Entry point of the `retrieval-lens` binary. */
export function runCli(): void {
  const ctrl = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    // First Ctrl-C stops between decoding steps; a second one exits at once.
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping after the current step (Ctrl-C again to quit now)\n');
    ctrl.abort();
  });
  const io: CliIO = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    signal: ctrl.signal,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`internal error: ${e?.stack ?? e}\n`);
      process.exitCode = 70;
    },
  );
}

if (require.main === module) runCli();
