// Help text from one spec per command (src/cli/help/<command>.ts), so that `retrieval-lens <command>
// --help` is answered by main.ts before the command's module (and onnxruntime, transformers.js)
// is loaded. A new flag is one more entry in its command's `options`; a new command is one help
// file and one line in main.ts's command table.

/** One option line: the flag as typed (with its value's shape) and what it does. */
export type OptionHelp = readonly [flag: string, description: string];

export interface CommandHelp {
  /** One line in `retrieval-lens --help`. */
  summary: string;
  /** What follows `retrieval-lens <command>` on the usage line, e.g. `FILE [options]`. */
  usage: string;
  options: readonly OptionHelp[];
  /** Paragraphs after the options (defaults, formats, how it relates to other commands). */
  notes?: readonly string[];
}

/** Lines at most this wide, like a classic terminal's help screens. */
export const HELP_WIDTH = 100;

/** Words of `text` in lines of at most `width` columns, each after `indent`. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/** The options of the model every model command takes. */
export const MODEL_OPTIONS: readonly OptionHelp[] = [
  ['--model DIR|hf:OWNER/NAME', 'model folder or Hugging Face Hub id (default: the bundled needle organism 2K)'],
  ['--dtype D', 'ONNX variant: fp32, fp16, quantized, q8, q4, q4f16, int8, uint8, bnb4 (default: onnx/model.onnx)'],
];

export const JSON_OPTION: OptionHelp = ['--json', 'print the result as JSON on stdout'];
export const HELP_OPTION: OptionHelp = ['-h, --help', 'print this help and exit'];

/** `retrieval-lens <name> --help`. */
export function formatHelp(name: string, help: CommandHelp, width = HELP_WIDTH): string {
  const options = [...help.options, HELP_OPTION];
  // Flags in one column (a long flag takes its own line), descriptions wrapped beside it.
  const col = Math.min(30, Math.max(...options.map(([f]) => f.length)) + 4);
  const lines = [`usage: retrieval-lens ${name} ${help.usage}`, '', ...wrap(help.summary, width), '', 'options:'];
  for (const [flag, description] of options) {
    const text = wrap(description, width, ' '.repeat(col));
    const head = `  ${flag}`;
    if (head.length + 1 < col) lines.push(head.padEnd(col) + text[0].slice(col), ...text.slice(1));
    else lines.push(head, ...text);
  }
  for (const p of help.notes ?? []) lines.push('', ...wrap(p, width));
  return lines.join('\n') + '\n';
}

/** `retrieval-lens --help`: the commands with their one-line summaries. */
export function formatOverview(commands: Record<string, { help: CommandHelp }>, width = HELP_WIDTH): string {
  const col = Math.max(...Object.keys(commands).map((n) => n.length)) + 4;
  const lines = ['usage: retrieval-lens <command> [options]', '', 'commands:'];
  for (const [name, { help }] of Object.entries(commands)) {
    const text = wrap(help.summary, width, ' '.repeat(col));
    lines.push(`  ${name}`.padEnd(col) + text[0].slice(col), ...text.slice(1));
  }
  lines.push(
    '',
    ...wrap(
      'Run "retrieval-lens <command> --help" (or -h) for a command\'s options; "retrieval-lens --version" (or -V) prints the version.',
      width,
    ),
  );
  return lines.join('\n') + '\n';
}
