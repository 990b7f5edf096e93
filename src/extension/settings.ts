// retrievalLens.* settings, read fresh for every run.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { DETECT_METHODS, type DetectMethod, type ModelRef } from '../worker/protocol.js';
import { hubDownloadDir } from '../shared/hubCache.js';
import type { Needle } from '../method/types.js';
import type { MaskMode, MaskScope } from '../shared/webviewProtocol.js';
import { DEFAULT_DEPTHS, DEFAULT_HIGHLIGHT_DEPTH, DEFAULT_MAX_NEW_TOKENS, DEFAULT_THRESHOLD } from '../method/defaults.js';

export interface Settings {
  model: string;
  dtype: string;
  threads: number;
  executionProvider: string;
  lengths: number[];
  depths: number[];
  needles: Needle[];
  threshold: number;
  maxNewTokens: number;
  maskMode: MaskMode;
  maskScope: MaskScope;
  highlightDepth: number;
  method: DetectMethod;
}

export function bundledModel(extensionPath: string): string {
  return path.join(extensionPath, 'models', 'needle-organism-2k');
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('retrievalLens');
  const nums = (key: string, def: number[]) => {
    const v = c.get<unknown>(key);
    return Array.isArray(v) && v.every((x) => typeof x === 'number') && v.length ? (v as number[]) : def;
  };
  const needles = (c.get<unknown[]>('needles') ?? []).filter(
    (n): n is Needle =>
      typeof n === 'object' && n !== null && typeof (n as Needle).needle === 'string' && typeof (n as Needle).question === 'string',
  );
  return {
    model: (c.get<string>('model') ?? '').trim(),
    dtype: c.get<string>('dtype') ?? 'auto',
    threads: c.get<number>('threads') ?? 0,
    executionProvider: c.get<string>('executionProvider') ?? 'cpu',
    lengths: nums('lengths', [512, 1024, 1984]),
    depths: nums('depths', DEFAULT_DEPTHS),
    needles: needles.map((n, i) => ({
      id: n.id ?? `user-${i + 1}`,
      needle: n.needle,
      question: n.question,
      real_needle: n.real_needle ?? n.needle,
    })),
    threshold: c.get<number>('threshold') ?? DEFAULT_THRESHOLD,
    maxNewTokens: c.get<number>('maxNewTokens') ?? DEFAULT_MAX_NEW_TOKENS,
    maskMode: c.get<string>('maskMode') === 'zero' ? 'zero' : 'uniform',
    maskScope: c.get<string>('maskScope') === 'all' ? 'all' : 'decode',
    highlightDepth: c.get<number>('highlightDepth') ?? DEFAULT_HIGHLIGHT_DEPTH,
    method: DETECT_METHODS.find((m) => m === c.get<string>('method')) ?? 'paper',
  };
}

/**
 * Where Select model's Hub downloads go: the user's Hugging Face cache when there is one, else the
 * extension's global storage. Never the extension's install folder, which an update replaces.
 */
export function hubDir(context: Pick<vscode.ExtensionContext, 'globalStorageUri'>): string {
  return hubDownloadDir(path.join(context.globalStorageUri.fsPath, 'models'))!;
}

export function modelRef(s: Settings, context: Pick<vscode.ExtensionContext, 'extensionPath' | 'globalStorageUri'>): ModelRef {
  return {
    spec: s.model || bundledModel(context.extensionPath),
    hubCacheDir: hubDir(context),
    dtype: s.dtype && s.dtype !== 'auto' ? s.dtype : undefined,
    threads: s.threads > 0 ? s.threads : undefined,
    executionProviders: s.executionProvider && s.executionProvider !== 'cpu' ? [s.executionProvider, 'cpu'] : ['cpu'],
  };
}
