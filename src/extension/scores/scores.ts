// Score files: open one (ours or the paper's head_score format) onto the map, export the current
// run as JSON, head_score JSON or CSV.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { ScoresFile } from '../../method/types.js';
import { RetrievalLensError } from '../../shared/errors.js';
import { decodeText, MAX_SCORES_BYTES, parseScoresJson, toCsv, toReferenceFormat } from '../methodApi.js';
import { command, type Lens } from '../lens.js';
import { saveAs } from '../documents.js';
import { readSettings } from '../settings.js';

/** Every format read: ours and the paper's JSON, DeCoRe's and HeadKV's, DuoAttention's TSV, QRHead's lists and YAML configs. */
export const SCORE_FILE_FILTERS = { 'Score files': ['json', 'tsv', 'yaml', 'yml'], 'All files': ['*'] };

export function registerScores(lens: Lens): void {
  command(lens, 'openScores', (uri?: vscode.Uri) => openScores(lens, uri instanceof vscode.Uri ? uri : undefined));
  command(lens, 'exportScores', () => exportScores(lens));
}

async function openScores(lens: Lens, uri?: vscode.Uri): Promise<void> {
  const target =
    uri ??
    (
      await vscode.window.showOpenDialog({
        canSelectMany: false,
        filters: SCORE_FILE_FILTERS,
        openLabel: 'Open scores',
        title: 'Open a Retrieval Lens or head_score JSON file',
      })
    )?.[0];
  if (!target) return;
  let scores: ScoresFile;
  const name = path.basename(target.fsPath);
  try {
    scores = await readScoresUri(target, name);
  } catch (e) {
    void vscode.window.showErrorMessage(`Retrieval Lens: ${name} is not a valid scores file: ${(e as Error).message}`);
    return;
  }
  lens.store.setRun(scores, name, 'file', null, null, readSettings().threshold);
  lens.panel.show(true);
}

/**
 * A score file the user picked, read as the CLI reads one: a file (not a folder or a pipe) of at
 * most MAX_SCORES_BYTES, UTF-8 (a BOM is fine), then parsed and checked.
 */
export async function readScoresUri(uri: vscode.Uri, name: string): Promise<ScoresFile> {
  const st = await vscode.workspace.fs.stat(uri);
  if (!(st.type & vscode.FileType.File)) throw new RetrievalLensError('BAD_SCORES_FILE', 'it is not a file');
  if (st.size > MAX_SCORES_BYTES)
    throw new RetrievalLensError(
      'BAD_SCORES_FILE',
      `it is ${Math.round(st.size / 1024 / 1024)} MB, more than the ${MAX_SCORES_BYTES / 1024 / 1024} MB accepted`,
    );
  return parseScoresJson(decodeText(await vscode.workspace.fs.readFile(uri), name, 'BAD_SCORES_FILE'), name);
}

async function exportScores(lens: Lens): Promise<void> {
  const run = lens.store.current;
  if (!run) {
    void vscode.window.showErrorMessage('Retrieval Lens: nothing to export yet. Find retrieval heads or open a scores file first.');
    return;
  }
  const formats = [
    {
      label: 'JSON (Retrieval Lens)',
      detail: 'scores, every case, settings and summary',
      ext: 'json',
      make: () => JSON.stringify(run.scores, null, 1),
    },
    {
      label: "JSON (the paper's head_score format)",
      detail: '{"layer-head": [scores...]}, as in nightdessert/Retrieval_Head',
      ext: 'json',
      make: () => JSON.stringify(toReferenceFormat(run.scores)),
    },
    { label: 'CSV', detail: 'layer,head,score rows', ext: 'csv', make: () => toCsv(run.scores) },
  ];
  const pick = await vscode.window.showQuickPick(formats, { title: 'Export scores as', ignoreFocusOut: true });
  if (!pick) return;
  const base = run.name.replace(/[^\w.-]+/g, '_').replace(/\.json$/, '');
  const suffix = pick.label.startsWith('JSON (the paper') ? '.head_score' : '';
  await saveAs(`${base}${suffix}.${pick.ext}`, { [pick.ext.toUpperCase()]: [pick.ext] }, Buffer.from(pick.make(), 'utf8'), 'scores');
}
