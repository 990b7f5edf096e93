// Chat templates, rendered with a bound. A template is Jinja code from the model folder: it can
// raise, be malformed, loop 10^8 times or build a gigabyte string. It is rendered (only when a
// prompt needs it) in one worker thread per process with its own small heap, and the caller waits
// a bounded time: a template that fails, runs out of its heap or time gives one CHAT_TEMPLATE line
// and the thread is replaced; the process never hangs or runs out of memory because of it.
// The call stays synchronous (TextTokenizer.applyChatTemplate is), by waiting on a shared flag and
// taking the reply with receiveMessageOnPort.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { RetrievalLensError } from './errors.js';
import type { RenderReply, RenderRequest } from './chatTemplateWorker.js';

export interface RenderLimits {
  /** Longest a render may take, in ms. */
  timeMs: number;
  /** The rendering thread's heap, in MB. */
  heapMb: number;
  /** Longest output, in characters. */
  maxChars: number;
}

export const DEFAULT_RENDER_LIMITS: RenderLimits = { timeMs: 5000, heapMb: 256, maxChars: 64 * 1024 * 1024 };
/** How long a new rendering thread may take to start (a loaded machine can be slow). */
const START_MS = 30_000;

/**
 * dist/chat-template-worker.js beside the bundles; from the sources (tests under tsx), the .ts file
 * through tsx's synchronous require hook (its --import hooks cannot start while this thread waits).
 */
function newWorker(options: ConstructorParameters<typeof Worker>[1]): Worker {
  const bundled = join(__dirname, 'chat-template-worker.js');
  if (existsSync(bundled)) return new Worker(bundled, options);
  const source = join(__dirname, 'chatTemplateWorker.ts');
  return new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(source)});`, { ...options, eval: true, execArgv: [] });
}

interface Thread {
  worker: Worker;
  port: MessagePort;
  flags: Int32Array;
  heapMb: number;
}

let thread: Thread | null = null;

const fail = (why: string) => new RetrievalLensError('CHAT_TEMPLATE', `the model's chat template cannot be rendered: ${why}`);

function start(heapMb: number): Thread {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  const worker = newWorker({
    workerData: { port: port2, flags },
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(32, heapMb), stackSizeMb: 4 },
    stdout: true,
    stderr: true,
  });
  // Never keeps the process alive; a thread that dies (out of its heap) is noticed by its silence.
  worker.unref();
  port1.unref();
  worker.on('error', () => undefined);
  if (Atomics.wait(flags, 1, 0, START_MS) === 'timed-out') {
    void worker.terminate();
    throw fail(`the thread that renders it did not start within ${START_MS / 1000} s`);
  }
  return { worker, port: port1, flags, heapMb };
}

function stop(): void {
  if (!thread) return;
  void thread.worker.terminate();
  thread.port.close();
  thread = null;
}

/** Renders `template` with `items` (messages, add_generation_prompt, special tokens) within `limits`. */
export function renderChatTemplate(template: string, items: Record<string, unknown>, limits: RenderLimits = DEFAULT_RENDER_LIMITS): string {
  if (thread && thread.heapMb !== limits.heapMb) stop();
  thread ??= start(limits.heapMb);
  const t = thread;
  Atomics.store(t.flags, 0, 0);
  t.port.postMessage({ template, items, maxChars: limits.maxChars } satisfies RenderRequest);
  if (Atomics.wait(t.flags, 0, 0, limits.timeMs) === 'timed-out') {
    // Still looping, or dead of its heap limit: either way it is replaced.
    stop();
    throw fail(`it did not finish within ${limits.timeMs / 1000} s and ${limits.heapMb} MB (an endless loop or a huge output?)`);
  }
  const reply = receiveMessageOnPort(t.port)?.message as RenderReply | undefined;
  if (!reply) {
    stop();
    throw fail('the thread that renders it stopped');
  }
  if ('error' in reply) throw fail(reply.error.split('\n')[0]);
  return reply.text;
}
