// Detection, model selection, score files: the issue-4 commands.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { WorkerClient } from '../worker/client.js';
import type { Needle, ScoresFile } from '../method/types.js';
import { decodeText, MAX_SCORES_BYTES, parseScoresJson, toCsv, toReferenceFormat, DEFAULT_NEEDLES } from './methodApi.js';
import { bundledModel, hubDir, modelRef, readSettings, type Settings } from './settings.js';
import { normalizeEol } from './offsets.js';
import { planGrid } from './viewState.js';
import type { DocContext, Store } from './store.js';
import type { Runner } from './runs.js';
import type { ModelRef } from '../worker/protocol.js';
import { RetrievalLensError } from '../shared/errors.js';

export interface Env {
  context: vscode.ExtensionContext;
  store: Store;
  worker: WorkerClient;
  runner: Runner;
  log: (line: string) => void;
  showPanel: () => void;
  afterRun: () => void;
}

const modelName = (spec: string) => path.basename(spec.replace(/[\\/]+$/, '')) || spec;

/** The haystack of a command: the selection, or the whole document when nothing is selected. */
export function haystackOf(editor: vscode.TextEditor): { text: string; range: vscode.Range; selected: boolean } {
  const sel = editor.selection;
  if (!sel.isEmpty) return { text: editor.document.getText(sel), range: new vscode.Range(sel.start, sel.end), selected: true };
  const doc = editor.document;
  const range = new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length));
  return { text: doc.getText(), range, selected: false };
}

export function docContext(editor: vscode.TextEditor, range: vscode.Range, raw: string): DocContext {
  const start = editor.document.offsetAt(range.start);
  return {
    uri: editor.document.uri.toString(),
    version: editor.document.version,
    rangeStart: start,
    rangeEnd: editor.document.offsetAt(range.end),
    eol: normalizeEol(raw, start),
  };
}

/** The needle for highlights and re-generation: the user's first, else the method's first. */
export function inspectNeedle(s: Settings, preferId?: string): Needle {
  const all = s.needles.length ? s.needles : (DEFAULT_NEEDLES as Needle[]);
  return all.find((n) => n.id === preferId) ?? all[0];
}

export async function findRetrievalHeads(env: Env): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showErrorMessage('Retrieval Lens: open a document (or select text in one) to use as the haystack.');
    return;
  }
  const { text, range, selected } = haystackOf(editor);
  if (!text.trim()) {
    void vscode.window.showErrorMessage(
      selected
        ? 'Retrieval Lens: the selection is empty; select some text, or clear the selection to use the whole document.'
        : 'Retrieval Lens: the document is empty; there is no text to hide a needle in.',
    );
    return;
  }
  const settings = readSettings();
  const ref = modelRef(settings, env.context);
  const ctx = docContext(editor, range, text);
  const docName = path.basename(editor.document.uri.path) || editor.document.uri.toString();
  const scores = await env.runner.run({ title: 'Find retrieval heads', unit: 'cases' }, async (hooks, report) => {
    report(`loading ${modelName(ref.spec)}`);
    const count = await env.worker.request({ kind: 'countTokens', model: ref, text: ctx.eol.text }, hooks);
    if (selected && count.tokens > count.contextLength) {
      throw new RetrievalLensError(
        'CONTEXT_TOO_LONG',
        `the selection has ${count.atLeast ? 'over ' : ''}${count.tokens} tokens, more than the model's context of ${count.contextLength} tokens. Select less text.`,
      );
    }
    const plan = planGrid(count.tokens, count.contextLength, settings.lengths, settings.depths, settings.maxNewTokens);
    if (!plan.lengths.length)
      throw new RetrievalLensError(
        'CONTEXT_TOO_LONG',
        `no context length in retrievalLens.lengths fits the model's context of ${count.contextLength} tokens`,
      );
    for (const n of plan.notes) env.log(`grid: ${n}`);
    return env.worker.request(
      {
        kind: 'detect',
        model: ref,
        haystack: [ctx.eol.text],
        lengths: plan.lengths,
        depths: plan.depths,
        needles: settings.needles,
        maxNewTokens: settings.maxNewTokens,
        threshold: settings.threshold,
      },
      hooks,
    );
  });
  if (!scores) return;
  env.store.setRun(scores, `${docName} · ${modelName(ref.spec)}`, 'run', ctx, ref.spec, settings.threshold);
  env.store.maskMode = settings.maskMode;
  env.store.maskScope = settings.maskScope;
  env.showPanel();
  env.afterRun();
  const v = env.store.current!.view;
  void vscode.window.showInformationMessage(
    `Retrieval Lens: ${v.retrievalCount} of ${v.layers * v.heads} heads score ≥ ${v.threshold} (${v.countedCases}/${v.totalCases} cases retrieved the needle).`,
  );
}

export async function selectModel(env: Env): Promise<void> {
  const current = readSettings().model;
  type Item = vscode.QuickPickItem & { action: 'bundled' | 'folder' | 'hub' };
  const items: Item[] = [
    {
      label: '$(package) Bundled needle organism',
      description: current ? '' : 'current',
      detail: 'Works offline; retrieves needles in prompts up to 2,048 tokens.',
      action: 'bundled',
    },
    {
      label: '$(folder-opened) Local model folder…',
      detail:
        'transformers.js/Optimum (config.json, tokenizer.json, onnx/model*.onnx) or ONNX Runtime GenAI / AI Toolkit (genai_config.json, model.onnx)',
      action: 'folder',
    },
    {
      label: '$(cloud-download) Hugging Face Hub id…',
      detail: `e.g. onnx-community/Qwen2.5-0.5B-Instruct; downloads into ${hubDir(env.context)}`,
      action: 'hub',
    },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Retrieval Lens: Select model',
    ignoreFocusOut: true,
    placeHolder: current ? `current: ${current}` : 'current: bundled needle organism',
  });
  if (!pick) return;
  let spec = '';
  if (pick.action === 'folder') {
    const uris = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Use this model folder',
    });
    if (!uris?.length) return;
    spec = uris[0].fsPath;
    // The worker's load says precisely what is wrong with a folder (not a model, several models below it, ...).
  } else if (pick.action === 'hub') {
    const id = await vscode.window.showInputBox({
      title: 'Hugging Face Hub model id',
      prompt: `Downloaded once into ${hubDir(env.context)}, where extension updates leave it`,
      ignoreFocusOut: true,
      placeHolder: 'owner/name',
      validateInput: (v) => (/^(hf:)?[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(v.trim()) ? null : 'Expected owner/name (optionally @revision)'),
    });
    if (!id) return;
    // Stored as "hf:owner/name": a bare owner/name is a (missing) relative folder.
    spec = id.trim().startsWith('hf:') ? id.trim() : `hf:${id.trim()}`;
  }
  const settings = { ...readSettings(), model: spec };
  const ref = modelRef(settings, env.context);
  const loaded = await env.runner.run({ title: `Load ${spec || 'bundled model'}`, unit: 'steps' }, (hooks) =>
    env.worker.request({ kind: 'load', model: ref }, hooks),
  );
  if (!loaded) return;
  await vscode.workspace.getConfiguration('retrievalLens').update('model', spec, vscode.ConfigurationTarget.Global);
  onModelChanged(env, ref);
  const i = loaded.info;
  const layout = i.layout === 'genai' ? 'ONNX Runtime GenAI' : 'transformers.js/Optimum';
  const forms = [...new Set(i.attentionForms)].join(' + ');
  const where = spec.startsWith('hf:') ? `; downloaded into ${i.dir}` : '';
  void vscode.window.showInformationMessage(
    `Retrieval Lens: using ${modelName(ref.spec)} (${i.modelType}, ${i.layers} layers × ${i.heads} heads, context ${i.contextLength}; ${layout}, ${i.dtype}, ${forms} attention${where}).`,
  );
}

/** A different model: masks and highlights belong to the old one. */
export function onModelChanged(env: Env, ref: ModelRef): void {
  const s = env.store;
  if (s.inspect && s.inspect.modelSpec !== ref.spec) s.clearHighlights();
  if (s.current?.modelSpec && s.current.modelSpec !== ref.spec) {
    s.clearMasks();
    s.regenerate = null;
    s.emit('masks', 'highlight');
  }
}

export async function openScores(env: Env, uri?: vscode.Uri): Promise<void> {
  const target =
    uri ??
    (
      await vscode.window.showOpenDialog({
        canSelectMany: false,
        filters: { 'Score files': ['json'] },
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
  env.store.setRun(scores, name, 'file', null, null, readSettings().threshold);
  env.showPanel();
  env.afterRun();
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

export async function exportScores(env: Env): Promise<void> {
  const run = env.store.current;
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
  const dest = await vscode.window.showSaveDialog({
    defaultUri: defaultSaveUri(`${base}${suffix}.${pick.ext}`),
    filters: { [pick.ext.toUpperCase()]: [pick.ext] },
  });
  if (!dest) return;
  await vscode.workspace.fs.writeFile(dest, Buffer.from(pick.make(), 'utf8'));
  void vscode.window.showInformationMessage(`Retrieval Lens: scores written to ${dest.fsPath}`);
}

export function defaultSaveUri(name: string): vscode.Uri | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0];
  return ws ? vscode.Uri.joinPath(ws.uri, name) : undefined;
}

export { bundledModel };
