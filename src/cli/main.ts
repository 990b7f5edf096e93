// `retrieval-lens <command>`: dispatch, Ctrl-C handling and error reporting. One rule for exit
// codes: 2 = how it was called (unknown command or flag, missing value, value out of range), 1 =
// what it was given (files, models, texts), each as one line `error: ...`; 130 = Ctrl-C; only an
// unexpected failure (a bug) shows a stack, with 70.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RetrievalLensError } from '../shared/errors.js';
import { UsageError, wantsHelp } from './args.js';
import { packageRoot } from '../shared/paths.js';
import { oneLineText as oneLine } from './oneLine.js';
import { formatHelp, formatOverview, type CommandHelp } from './usage.js';
import type { Command, CliIO } from './io.js';
import { help as inspectHelp } from './help/inspect.js';
import { help as generateHelp } from './help/generate.js';
import { help as detectHelp } from './help/detect.js';
import { help as ablateHelp } from './help/ablate.js';
import { help as analyzeHelp } from './help/analyze.js';
import { help as mergeHelp } from './help/merge.js';
import { help as kvWhatifHelp } from './help/kvWhatif.js';
import { help as attributeHelp } from './help/attribute.js';

// A command: its help (answered here, before the module loads) and its module, loaded on use.
const commands: Record<string, { load: () => Promise<{ run: Command }>; help: CommandHelp }> = {
  inspect: { load: () => import('./commands/inspect.js'), help: inspectHelp },
  generate: { load: () => import('./commands/generate.js'), help: generateHelp },
  detect: { load: () => import('./commands/detect.js'), help: detectHelp },
  ablate: { load: () => import('./commands/ablate.js'), help: ablateHelp },
  analyze: { load: () => import('./commands/analyze.js'), help: analyzeHelp },
  'kv-whatif': { load: () => import('./commands/kvWhatif.js'), help: kvWhatifHelp },
  attribute: { load: () => import('./commands/attribute.js'), help: attributeHelp },
  merge: { load: () => import('./commands/merge.js'), help: mergeHelp },
};

const usage = () => formatOverview(commands);

function version(): string {
  try {
    return String(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return 2;
  }
  if (name === '--help' || name === '-h') {
    io.stdout(usage());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`retrieval-lens ${version()}\n`);
    return 0;
  }
  // "help detect" is "detect --help".
  const [cmdName, cmdArgs] = name === 'help' ? [rest[0], ['--help']] : [name, rest];
  if (cmdName === undefined) {
    io.stdout(usage());
    return 0;
  }
  const cmd = Object.hasOwn(commands, cmdName) ? commands[cmdName] : undefined;
  if (!cmd) {
    io.stderr(
      `error: unknown command ${JSON.stringify(cmdName)}; commands: ${Object.keys(commands).join(', ')} (see retrieval-lens --help)\n`,
    );
    return 2;
  }
  if (wantsHelp(cmdArgs)) {
    io.stdout(formatHelp(cmdName, cmd.help));
    return 0;
  }
  try {
    return await (await cmd.load()).run(cmdArgs, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`error: ${oneLine(e.message)} (see retrieval-lens ${cmdName} --help)\n`);
      return 2;
    }
    if (e instanceof RetrievalLensError) {
      if (e.code === 'CANCELLED') {
        io.stderr('cancelled; nothing was written\n');
        return 130;
      }
      io.stderr(`error: ${oneLine(e.message)}\n`);
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
    stderrIsTTY: process.stderr.isTTY,
    columns: process.stderr.columns,
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
