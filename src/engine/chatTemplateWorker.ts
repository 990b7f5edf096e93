// The worker thread that renders chat templates (see chatTemplate.ts). A template is a program
// from the model folder: it may loop forever, allocate without end or raise. Here it can only
// exhaust this thread's own heap (resourceLimits) or time (the caller terminates the thread).
import { workerData, type MessagePort } from 'node:worker_threads';
import { Template } from '@huggingface/jinja';

export interface RenderRequest {
  template: string;
  items: Record<string, unknown>;
  maxChars: number;
}

export type RenderReply = { text: string } | { error: string };

const { port, flags } = workerData as { port: MessagePort; flags: Int32Array };

const compiled = new Map<string, Template>();

function render(req: RenderRequest): RenderReply {
  try {
    let t = compiled.get(req.template);
    if (!t) {
      if (compiled.size >= 8) compiled.clear();
      t = new Template(req.template);
      compiled.set(req.template, t);
    }
    const text = t.render(req.items);
    if (typeof text !== 'string') return { error: 'it did not render to text' };
    if (text.length > req.maxChars) return { error: `it rendered ${text.length} characters, more than the ${req.maxChars} accepted` };
    return { text };
  } catch (e) {
    return { error: (e as Error)?.message ?? String(e) };
  }
}

port.on('message', (req: RenderRequest) => {
  port.postMessage(render(req));
  // The caller waits on flags[0] (it cannot take events while it waits): the reply is in the port's queue now.
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
});
Atomics.store(flags, 1, 1);
Atomics.notify(flags, 1);
