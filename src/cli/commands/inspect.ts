// retrieval-lens inspect --model DIR [--dtype D] [--json]
import { parseArgs } from '../args.js';
import { checkModelFlags, MODEL_FLAGS, openModel } from '../common.js';
import type { Command } from '../io.js';
import { formatJson } from '../json.js';

/** "GroupQueryAttention in all 24 layers", or per form when layers differ. */
function summarizeForms(forms: string[]): string {
  const counts = new Map<string, number>();
  for (const f of forms) counts.set(f, (counts.get(f) ?? 0) + 1);
  const name = (f: string) => (f === 'plain' ? 'plain MatMul/Softmax' : f === 'Attention' ? 'ONNX Attention' : `com.microsoft.${f}`);
  if (counts.size === 1) return `${name(forms[0])} in all ${forms.length} layers`;
  return [...counts].map(([f, n]) => `${name(f)} in ${n} layers`).join(', ');
}

export const run: Command = async (argv, io) => {
  const { flags } = parseArgs(argv, { ...MODEL_FLAGS, json: { type: 'boolean' } });
  checkModelFlags(flags);
  const model = await openModel(flags, io);
  try {
    const { info, instrumentation: ins } = model;
    const report = {
      model: info.id,
      dir: info.dir,
      architecture: info.modelType,
      layers: info.layers,
      heads: info.heads,
      kvHeads: info.kvHeads,
      groupedQueryAttention: info.kvHeads < info.heads,
      headDim: info.headDim,
      hiddenSize: info.hiddenSize,
      vocabSize: info.vocabSize,
      contextLength: info.contextLength,
      layout: info.layout,
      dtype: info.dtype,
      onnxFile: info.onnxFile,
      attentionForms: summarizeForms(info.attentionForms),
      kvCache: info.kvCache,
      batchDecoding: info.batchDecoding,
      template: info.template,
      chatTemplate: info.hasChatTemplate,
      attentionNodes: ins.attention,
      instrumentedGraph: ins.instrumentedPath,
      fromCache: ins.fromCache,
      sourceSha256: ins.sourceSha256,
    };
    if (flags.json) {
      io.stdout(formatJson(report) + '\n');
      return 0;
    }
    const lines = [
      `model           ${report.model}`,
      `architecture    ${report.architecture}: ${report.layers} layers x ${report.heads} query heads (${report.kvHeads} KV heads${report.groupedQueryAttention ? ', grouped-query' : ''}), head dim ${report.headDim}, hidden ${report.hiddenSize}, vocab ${report.vocabSize}`,
      `context length  ${report.contextLength} tokens`,
      `layout          ${report.layout === 'genai' ? 'ONNX Runtime GenAI (genai_config.json)' : 'transformers.js/Optimum (onnx/)'}`,
      `onnx            ${report.onnxFile} (${report.dtype})`,
      `attention       ${report.attentionForms}`,
      `decoding        ${report.kvCache === 'append' ? 'KV cache read in place; each step returns only its new positions' : report.kvCache === 'shared' ? 'KV cache in shared past/present buffers (appended in place)' : report.kvCache === 'pingpong' ? 'KV cache in two preallocated buffers (ping-pong)' : 'KV cache as onnxruntime allocates it'}; ${report.batchDecoding ? 'several prompts decode as one batch' : 'one prompt at a time'}`,
      `prompt template ${report.template ? JSON.stringify(report.template) : report.chatTemplate ? 'chat template' : 'plain'}`,
      `attention nodes ${report.attentionNodes.length}:`,
      ...report.attentionNodes.map(
        (a) =>
          `  layer ${String(a.layer).padStart(2)}  ${a.form.padEnd(19)} ${a.node}${a.form === 'plain' ? `  (scores ${a.scoreMatMul}, values ${a.valueMatMul}${a.casts ? ', with casts' : ''})` : ''}${a.uniformCaveat ? `  [uniform mask unavailable: ${a.uniformCaveat}]` : ''}`,
      ),
      `instrumented    ${report.instrumentedGraph}${report.fromCache ? ' (cached)' : ''}`,
    ];
    io.stdout(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.dispose();
  }
};
