// Issue-5 commands: needle highlights, masks and re-generation, ablation, comparison.
import * as vscode from 'vscode';
import type { HeadRef, AblationView } from '../shared/webviewProtocol.js';
import { headId } from '../shared/webviewProtocol.js';
import type { InspectResponse } from '../worker/protocol.js';
import type { Needle, ScoresFile } from '../method/types.js';
import { compareScores, trialStats } from './methodApi.js';
import { modelRef, readSettings } from './settings.js';
import { inspectNeedle, readScoresUri, type Env } from './controller.js';
import { parseIntList, planGrid, retrievalHeads } from './viewState.js';
import type { Run } from './store.js';
import { COMPARE_KS } from '../method/defaults.js';

/** The doc the current run was made on must still be open and unchanged. */
function runDocument(env: Env): vscode.TextDocument | string {
  const run = env.store.current;
  if (!run?.doc)
    return 'needle highlights need a run on a document: use "Find retrieval heads for this context" first (an opened scores file has no text).';
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === run.doc!.uri);
  if (!doc) return 'the document of this run is closed; run "Find retrieval heads for this context" again.';
  if (doc.version !== run.doc.version) return 'the document changed since the run; run "Find retrieval heads for this context" again.';
  return doc;
}

function needleFor(env: Env, question?: string): Needle {
  const s = readSettings();
  const lastCase = env.store.current?.scores.cases.at(-1);
  const n = inspectNeedle(s, lastCase?.needleId);
  return question && question.trim() ? { ...n, question: question.trim() } : n;
}

function inspectRequest(env: Env, needle: Needle, masked: boolean) {
  const s = readSettings();
  const run = env.store.current!;
  const maxPrompt = Math.max(...(run.scores.summary?.accuracy?.lengths?.length ? run.scores.summary.accuracy.lengths : s.lengths));
  const masks = env.store.masks.list();
  return {
    kind: 'inspect' as const,
    model: modelRef(s, env.context),
    text: run.doc!.eol.text,
    needle,
    depth: s.highlightDepth,
    maxPromptTokens: maxPrompt,
    maxNewTokens: s.maxNewTokens,
    mask: masked && masks.length ? { heads: masks, mode: env.store.maskMode, scope: env.store.maskScope } : undefined,
    topPositions: 32,
  };
}

/** Generates once on the run's text with a needle and keeps every head's attention, for highlights. */
export async function showHighlights(env: Env, quiet = false): Promise<InspectResponse | undefined> {
  const doc = runDocument(env);
  if (typeof doc === 'string') {
    if (!quiet) void vscode.window.showErrorMessage(`Retrieval Lens: ${doc}`);
    return undefined;
  }
  const run = env.store.current!;
  const req = inspectRequest(env, needleFor(env, env.store.regenerate?.question), false);
  const data = await env.runner.run(
    { title: 'Needle highlights', unit: 'tokens', location: quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification },
    (hooks) => env.worker.request(req, hooks),
  );
  if (!data || env.store.current !== run) return undefined;
  env.store.inspect = { data, doc: run.doc!, modelSpec: req.model.spec };
  env.store.step = 0;
  if (!env.store.regenerate) {
    env.store.regenerate = {
      question: data.question,
      busy: false,
      plain: data.answer,
      masked: null,
      maskedHeads: [],
      maskMode: env.store.maskMode,
      maskScope: env.store.maskScope,
      error: null,
    };
  }
  env.store.emit('highlight');
  return data;
}

/** The answer with no masks and with the current masks, on the same prompt. */
export async function regenerate(env: Env, question: string): Promise<void> {
  const doc = runDocument(env);
  if (typeof doc === 'string') {
    void vscode.window.showErrorMessage(`Retrieval Lens: ${doc}`);
    return;
  }
  const run = env.store.current!;
  const needle = needleFor(env, question);
  const masks = env.store.masks.list();
  const base = {
    question: needle.question,
    busy: true,
    plain: null,
    masked: null,
    maskedHeads: masks.map(headId),
    maskMode: env.store.maskMode,
    maskScope: env.store.maskScope,
    error: null,
  };
  env.store.regenerate = base;
  env.store.emit('regenerate');
  const out = await env.runner.run(
    { title: masks.length ? `Re-generate with ${masks.length} heads masked` : 'Re-generate', unit: 'tokens' },
    async (hooks) => {
      const plain = await env.worker.request(inspectRequest(env, needle, false), hooks);
      const masked = masks.length ? await env.worker.request(inspectRequest(env, needle, true), hooks) : null;
      return { plain, masked };
    },
  );
  if (env.store.current !== run) return;
  if (!out) {
    env.store.regenerate = { ...base, busy: false, error: 'The run was cancelled or failed.' };
  } else {
    env.store.inspect = { data: out.plain, doc: run.doc!, modelSpec: modelRef(readSettings(), env.context).spec };
    env.store.regenerate = { ...base, busy: false, plain: out.plain.answer, masked: out.masked ? out.masked.answer : null };
  }
  env.store.emit('regenerate', 'highlight');
}

export function targetHeads(env: Env, arg: unknown, selection: readonly unknown[] | undefined): HeadRef[] {
  const pick = (x: unknown): HeadRef | null => {
    const o = x as { row?: HeadRef; layer?: number; head?: number; kind?: string };
    if (o?.kind === 'head' && o.row) return { layer: o.row.layer, head: o.row.head };
    if (Number.isInteger(o?.layer) && Number.isInteger(o?.head)) return { layer: o.layer!, head: o.head! };
    return null;
  };
  const list = (selection?.length ? selection : [arg]).map(pick).filter((h): h is HeadRef => h !== null);
  if (list.length) return list;
  return env.store.selected ? [env.store.selected] : [];
}

export function maskAllRetrievalHeads(env: Env): void {
  const run = env.store.current;
  if (!run) {
    void vscode.window.showErrorMessage('Retrieval Lens: no scores yet. Find retrieval heads or open a scores file first.');
    return;
  }
  const heads = retrievalHeads(run.view);
  if (!heads.length) {
    void vscode.window.showInformationMessage(`Retrieval Lens: no head scores ≥ ${run.view.threshold}; nothing to mask.`);
    return;
  }
  env.store.setMasks(heads, true);
}

const K_CHOICES = ['1, 2, 4, 8', '1, 2, 3', '1, 2, 4, 8, 16', '5, 10, 20, 30'];

export async function runAblation(env: Env): Promise<void> {
  const run = env.store.current;
  if (!run) {
    void vscode.window.showErrorMessage(
      'Retrieval Lens: ablation needs retrieval scores. Find retrieval heads or open a scores file first.',
    );
    return;
  }
  const kPick = await vscode.window.showQuickPick([...K_CHOICES.map((label) => ({ label })), { label: 'Other…' }], {
    title: 'Run ablation: numbers of heads to mask (k)',
    ignoreFocusOut: true,
    placeHolder: 'top-k retrieval heads vs k random heads',
  });
  if (!kPick) return;
  let ks = parseIntList(kPick.label);
  if (kPick.label === 'Other…') {
    const text = await vscode.window.showInputBox({
      title: 'k values',
      ignoreFocusOut: true,
      placeHolder: '1, 2, 4',
      validateInput: (v) => (parseIntList(v) ? null : 'Positive whole numbers separated by commas'),
    });
    if (!text) return;
    ks = parseIntList(text);
  }
  const total = run.view.layers * run.view.heads;
  ks = (ks ?? []).filter((k) => k < total);
  if (!ks.length) {
    void vscode.window.showErrorMessage(`Retrieval Lens: k must be below the number of heads (${total}).`);
    return;
  }
  const tPick = await vscode.window.showQuickPick(
    ['1', '3', '5'].map((label) => ({ label, description: label === '3' ? 'random trials per k' : '' })),
    { title: 'Run ablation: random trials per k', ignoreFocusOut: true },
  );
  if (!tPick) return;
  const s = readSettings();
  const doc = run.doc ? run.doc.eol.text : vscode.window.activeTextEditor?.document.getText();
  if (!doc?.trim()) {
    void vscode.window.showErrorMessage(
      'Retrieval Lens: ablation needs a haystack text: open a document (this scores file has none of its own).',
    );
    return;
  }
  const ref = modelRef(s, env.context);
  if (run.scores.model.layers && run.source === 'file') env.log(`ablation: scores from ${run.name} applied to ${ref.spec}`);
  const acc = run.scores.summary?.accuracy;
  const file = await env.runner.run({ title: 'Ablation', unit: 'cases' }, async (hooks) => {
    const count = await env.worker.request({ kind: 'countTokens', model: ref, text: doc }, hooks);
    const plan = planGrid(
      count.tokens,
      count.contextLength,
      acc?.lengths?.length ? acc.lengths : s.lengths,
      acc?.depths?.length ? acc.depths : s.depths,
      s.maxNewTokens,
    );
    return env.worker.request(
      {
        kind: 'ablate',
        model: ref,
        scores: run.scores,
        ks: ks!,
        randomTrials: Number(tPick.label),
        seed: 1,
        haystack: [doc],
        lengths: plan.lengths,
        depths: plan.depths,
        needles: s.needles,
        maxNewTokens: s.maxNewTokens,
        maskMode: env.store.maskMode,
        maskScope: env.store.maskScope,
      },
      hooks,
    );
  });
  if (!file) return;
  const view: AblationView = {
    name: `${run.name} · k=${ks.join(',')} · ${env.store.maskMode}`,
    modelId: file.model.id,
    baseline: file.baseline,
    rows: file.results.map((r) => ({ k: r.k, top: r.top, random: r.random, ...trialStats(r.random) })),
  };
  env.store.ablations.push({ view, file });
  env.store.tab = 'ablation';
  env.store.emit('ablation');
  env.showPanel();
}

export async function compareRuns(env: Env): Promise<void> {
  type Item = vscode.QuickPickItem & { run?: Run; open?: true };
  const items = (): Item[] => [
    ...env.store.runs.map((r) => ({ label: r.name, description: `${r.view.modelId} · ${r.view.layers}×${r.view.heads}`, run: r })),
    { label: '$(folder-opened) Open a scores file…', open: true as const },
  ];
  const chosen: { name: string; scores: ScoresFile }[] = [];
  for (const which of ['first', 'second']) {
    const pick = await vscode.window.showQuickPick(
      items().filter((i) => !chosen.some((c) => c.name === i.label)),
      { title: `Compare runs: ${which} run`, ignoreFocusOut: true },
    );
    if (!pick) return;
    if (pick.run) chosen.push({ name: pick.run.name, scores: pick.run.scores });
    else {
      const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Score files': ['json'] } }))?.[0];
      if (!uri) return;
      try {
        const name = uri.path.split('/').pop() ?? uri.toString();
        chosen.push({ name, scores: await readScoresUri(uri, name) });
      } catch (e) {
        void vscode.window.showErrorMessage(`Retrieval Lens: not a valid scores file: ${(e as Error).message}`);
        return;
      }
    }
  }
  const [a, b] = chosen;
  try {
    env.store.compare = buildCompare(a, b);
  } catch (e) {
    void vscode.window.showErrorMessage(`Retrieval Lens: cannot compare: ${(e as Error).message}`);
    return;
  }
  env.store.tab = 'compare';
  env.store.emit('compare');
  env.showPanel();
}

function buildCompare(a: { name: string; scores: ScoresFile }, b: { name: string; scores: ScoresFile }) {
  const r = compareScores(a.scores, b.scores, { ks: COMPARE_KS });
  const points: { key: string; a: number; b: number }[] = [];
  const L = Math.min(a.scores.model.layers, b.scores.model.layers);
  const H = Math.min(a.scores.model.heads, b.scores.model.heads);
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++) points.push({ key: `${l}-${h}`, a: a.scores.scores[l][h], b: b.scores.scores[l][h] });
  const sameShape = a.scores.model.layers === b.scores.model.layers && a.scores.model.heads === b.scores.model.heads;
  return {
    a: a.name,
    b: b.name,
    pearson: r.pearson,
    spearman: r.spearman,
    overlap: r.topK.map((t: { k: number; shared: number; fraction: number }) => ({ k: t.k, shared: t.shared, fraction: t.fraction })),
    points,
    note: sameShape
      ? null
      : `different shapes (${a.scores.model.layers}×${a.scores.model.heads} vs ${b.scores.model.layers}×${b.scores.model.heads}); compared on the shared heads`,
  };
}
