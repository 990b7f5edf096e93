// retrieval-lens analyze --help
import { JSON_OPTION, type CommandHelp } from '../usage.js';

export const help: CommandHelp = {
  summary: "Summarise, compare or convert head files (ours, the paper's, DeCoRe's, HeadKV's, DuoAttention's, QRHead's).",
  usage: 'FILE [--compare FILE2 | --export FORMAT --out F] [options]',
  options: [
    ['--compare FILE2', 'Pearson, Spearman and Kendall (tau-b) correlation, top-k overlap (k = 5, 10, 20), the heads they disagree on'],
    ['--level query|kv', 'compare query heads (default) or KV heads (a query-head file is reduced per KV group with --kv-agg)'],
    ['--kv-agg max|mean', 'how a group of query heads sharing a KV head becomes one score (default: max)'],
    ['--kv-heads N', "KV heads per layer, when neither file says (the paper's JSON does not)"],
    ['--disagree-k N', "heads in one file's top N but not the other's (default: 10)"],
    [
      '--export duo|qrhead|qrhead-config',
      "write FILE in DuoAttention's TSV, QRHead's scored list, or a QRHead config of the --top best heads",
    ],
    ['--out F', 'where --export writes'],
    ['--top N', 'how many top heads to list (default: 10; with --export qrhead-config, how many heads the config names, default 16)'],
    JSON_OPTION,
  ],
  notes: [
    'Prints heads, counted cases, the fraction of heads >= 0.1 and exactly 0, heads active in every case and the top heads.',
    'Files are recognised by their content: ours (any --method), the paper\'s head_score JSON {"layer-head": [...]}, the same format as DeCoRe\'s retrieval_heads/ and HeadKV\'s Important_Head/head_score/ (retrieval and retrieval-reasoning) files, DuoAttention\'s attn_patterns/*/full_attention_heads.tsv (layers x KV heads gates; compare it with --level kv), QRHead\'s detection output [["layer-head", score], ...] and its configs\' attn_head_set "l-h,l-h,..." (a ranked list without scores gets (n - rank) / n, unlisted heads 0).',
    "--export duo writes numpy's %.18e with tabs; DuoAttention's gates are in [0, 1], so deploy such a file with a sparsity rather than its 0.5 threshold when the scores are not.",
  ],
};
