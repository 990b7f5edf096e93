// Host side of the worker protocol: forks the worker on first use, matches answers to requests,
// forwards cancels, and fails every pending request when the process dies (crash, OOM, kill) so
// the next request starts a fresh worker. No vscode import: the extension and tests both use it.
import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { RetrievalLensError } from '../shared/errors.js';
import {
  validateWorkerMessage,
  type HostToWorker,
  type JobProgress,
  type RequestKind,
  type ResultOf,
  type WorkerErrorPayload,
  type WorkerRequest,
  type WorkerToHost,
} from './protocol.js';

export interface WorkerClientOptions {
  /** dist/worker.js, or src/worker/worker.ts with execArgv ['--import', 'tsx']. */
  workerPath: string;
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Worker stderr lines (for an output channel). */
  log?: (line: string) => void;
}

export interface RequestHooks {
  onProgress?: (p: JobProgress) => void;
  signal?: AbortSignal;
}

/** An error from the worker, with the worker's code (RetrievalLensError codes or WORKER_CRASHED). */
export class WorkerError extends Error {
  constructor(
    public readonly code: WorkerErrorPayload['code'],
    message: string,
    public readonly workerStack?: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: JobProgress) => void;
  kind: RequestKind;
}

export class WorkerClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  /** Crashes seen so far; the extension shows them, tests count them. */
  crashes = 0;

  constructor(private readonly opts: WorkerClientOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  request<K extends RequestKind>(request: Extract<WorkerRequest, { kind: K }>, hooks: RequestHooks = {}): Promise<ResultOf<K>> {
    if (hooks.signal?.aborted) return Promise.reject(new WorkerError('CANCELLED', 'cancelled'));
    const child = this.ensure();
    const id = this.nextId++;
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const onAbort = () => this.send(child, { type: 'cancel', id });
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => hooks.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        kind: request.kind,
        onProgress: hooks.onProgress,
        resolve: (v) => {
          done();
          resolve(v as ResultOf<K>);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.send(child, { type: 'request', id, request });
    });
  }

  /** Stops the worker; pending requests fail with WORKER_CRASHED unless `quiet`. */
  dispose(): void {
    const child = this.child;
    this.child = undefined;
    this.failAll(new WorkerError('CANCELLED', 'the model worker was stopped'));
    if (child && child.exitCode === null) child.kill();
  }

  private ensure(): ChildProcess {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    const options: ForkOptions = {
      execArgv: this.opts.execArgv ?? [],
      // Electron hosts (desktop VS Code) run the fork as plain Node only with this set.
      env: { ...process.env, ...this.opts.env, ELECTRON_RUN_AS_NODE: '1' },
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    };
    const child = fork(this.opts.workerPath, [], options);
    const log = this.opts.log;
    const pipe = (s: NodeJS.ReadableStream | null) => s?.on('data', (d: Buffer) => log?.(d.toString().trimEnd()));
    pipe(child.stdout);
    pipe(child.stderr);
    child.on('message', (m: unknown) => this.onMessage(m));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.pending.size) {
        this.crashes++;
        const why =
          signal === 'SIGKILL' ? 'it was killed (often: out of memory)' : `exit code ${code}${signal ? `, signal ${signal}` : ''}`;
        this.failAll(new WorkerError('WORKER_CRASHED', `The model worker stopped during the run (${why}). It restarts on the next run.`));
      }
    });
    child.on('error', (e) => log?.(`worker error: ${e.message}`));
    this.child = child;
    return child;
  }

  private send(child: ChildProcess, m: HostToWorker): void {
    if (child.connected) child.send(m);
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }

  private onMessage(m: unknown): void {
    const bad = validateWorkerMessage(m);
    if (bad) {
      this.opts.log?.(`ignored worker message: ${bad}`);
      return;
    }
    const msg = m as WorkerToHost;
    if (msg.type === 'ready') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') p.onProgress?.(msg.progress);
    else if (msg.type === 'result') {
      this.pending.delete(msg.id);
      p.resolve(msg.result);
    } else {
      this.pending.delete(msg.id);
      p.reject(new WorkerError(msg.error.code, msg.error.message, msg.error.stack));
    }
  }
}

/** True for errors the user should see as a plain message (not a bug report). */
export function isUserError(e: unknown): e is WorkerError | RetrievalLensError {
  return e instanceof WorkerError || e instanceof RetrievalLensError;
}
