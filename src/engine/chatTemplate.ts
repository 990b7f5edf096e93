// Chat templates, rendered with a bound. A template is Jinja code from the model folder: it can
// raise, be malformed, loop 10^8 times or allocate gigabytes in one step. It is rendered (only
// when a prompt needs it) in a short-lived process of its own with a small heap and a time limit:
// whatever it does, the caller gets its text or one CHAT_TEMPLATE line. (A worker thread is not
// enough: one allocation past a thread's heap limit aborts the whole process.) The call stays
// synchronous, as TextTokenizer.applyChatTemplate is; identical renders are remembered.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cancelled, RetrievalLensError } from '../shared/errors.js';

export interface RenderLimits {
  /** Longest a render may take, in ms (the process's start included). */
  timeMs: number;
  /** The rendering process's heap, in MB. */
  heapMb: number;
  /** Longest output, in characters. */
  maxChars: number;
}

export const DEFAULT_RENDER_LIMITS: RenderLimits = { timeMs: 5000, heapMb: 256, maxChars: 16 * 1024 * 1024 };

/** dist/chat-template-renderer.js beside the bundles; the CommonJS source when running from the sources. */
function rendererFile(): string {
  const bundled = join(__dirname, 'chat-template-renderer.js');
  return existsSync(bundled) ? bundled : join(__dirname, 'chat-template-renderer.cjs');
}

const fail = (why: string) => new RetrievalLensError('CHAT_TEMPLATE', `the model's chat template cannot be rendered: ${why}`);

const memo = new Map<string, string>();
const MEMO_ENTRIES = 32;

/** Renders `template` with `items` (messages, add_generation_prompt, special tokens) within `limits`. */
export function renderChatTemplate(template: string, items: Record<string, unknown>, limits: RenderLimits = DEFAULT_RENDER_LIMITS): string {
  const input = JSON.stringify({ template, items, maxChars: limits.maxChars });
  const key = createHash('sha256').update(`${limits.timeMs}/${limits.heapMb}/`).update(input).digest('hex');
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const r = spawnSync(process.execPath, [`--max-old-space-size=${limits.heapMb}`, rendererFile()], {
    input,
    timeout: limits.timeMs,
    killSignal: 'SIGKILL',
    maxBuffer: 4 * limits.maxChars + (1 << 20),
    // Electron hosts (the extension's worker) run a child as plain Node only with this set.
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    windowsHide: true,
  });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  // Ctrl-C reaches the renderer too (same process group): the run is being cancelled.
  if (r.signal === 'SIGINT' || r.signal === 'SIGTERM') throw cancelled();
  if (code === 'ETIMEDOUT') throw fail(`it did not finish within ${limits.timeMs / 1000} s (an endless loop?)`);
  if (code === 'ENOBUFS') throw fail('its output is too large');
  if (r.error) throw fail(`the process that renders it did not start (${r.error.message})`);
  let reply: { text?: unknown; error?: unknown };
  try {
    reply = JSON.parse(r.stdout.toString('utf8'));
  } catch {
    // No reply: it died, mostly of its heap limit.
    if (/heap out of memory|Allocation failed/.test(r.stderr.toString()))
      throw fail(`it needed more than ${limits.heapMb} MB (an endless loop?)`);
    throw fail(`it stopped without a result (${r.signal ?? `exit ${r.status}`})`);
  }
  if (typeof reply.text !== 'string') throw fail(String(reply.error ?? 'no text').split('\n')[0]);
  if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  memo.set(key, reply.text);
  return reply.text;
}
