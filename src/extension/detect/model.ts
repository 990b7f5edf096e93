// Select model: the bundled organism, a local folder (either layout) or a Hugging Face Hub id;
// the worker's load says precisely what is wrong with a folder that is not a model.
import * as vscode from 'vscode';
import { command, type Lens } from '../lens.js';
import { modelName } from '../documents.js';
import { hubDir, modelRef, readSettings } from '../settings.js';

export function registerModel(lens: Lens): void {
  command(lens, 'selectModel', () => selectModel(lens));
  lens.context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (['model', 'dtype', 'threads', 'executionProvider'].some((k) => e.affectsConfiguration(`retrievalLens.${k}`)))
        lens.store.modelChanged(modelRef(readSettings(), lens.context).spec);
    }),
  );
}

async function selectModel(lens: Lens): Promise<void> {
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
      detail: `e.g. onnx-community/Qwen2.5-0.5B-Instruct; downloads into ${hubDir(lens.context)}`,
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
      prompt: `Downloaded once into ${hubDir(lens.context)}, where extension updates leave it`,
      ignoreFocusOut: true,
      placeHolder: 'owner/name',
      validateInput: (v) => (/^(hf:)?[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(v.trim()) ? null : 'Expected owner/name (optionally @revision)'),
    });
    if (!id) return;
    // Stored as "hf:owner/name": a bare owner/name is a (missing) relative folder.
    spec = id.trim().startsWith('hf:') ? id.trim() : `hf:${id.trim()}`;
  }
  const settings = { ...readSettings(), model: spec };
  const ref = modelRef(settings, lens.context);
  const loaded = await lens.jobs.run({ title: `Load ${spec || 'bundled model'}`, unit: 'steps' }, (hooks) =>
    lens.worker.request({ kind: 'load', model: ref }, hooks),
  );
  if (!loaded) return;
  await vscode.workspace.getConfiguration('retrievalLens').update('model', spec, vscode.ConfigurationTarget.Global);
  lens.store.modelChanged(ref.spec);
  const i = loaded.info;
  const layout = i.layout === 'genai' ? 'ONNX Runtime GenAI' : 'transformers.js/Optimum';
  const forms = [...new Set(i.attentionForms)].join(' + ');
  const where = spec.startsWith('hf:') ? `; downloaded into ${i.dir}` : '';
  void vscode.window.showInformationMessage(
    `Retrieval Lens: using ${modelName(ref.spec)} (${i.modelType}, ${i.layers} layers × ${i.heads} heads, context ${i.contextLength}; ${layout}, ${i.dtype}, ${forms} attention${where}).`,
  );
}
