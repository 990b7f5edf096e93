// Loads a model folder's tokenizer with @huggingface/transformers, never from the network. The
// tokenizer files are checked first (regular files of a bounded size: a FIFO or /dev/zero named
// tokenizer.json must not hang the load). The chat template is not rendered at load: only when a
// prompt needs it, and then with a bound on time and memory (chatTemplate.ts).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { renderChatTemplate } from './chatTemplate.js';
import { RetrievalLensError } from '../shared/errors.js';
import type { TextTokenizer } from './types.js';

type HfTokenizer = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;

/** Largest tokenizer file read (the largest vocabularies' tokenizer.json are a few tens of MB). */
export const MAX_TOKENIZER_BYTES = 256 * 1024 * 1024;
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'];
/** Special tokens a chat template may refer to (transformers.js's SPECIAL_TOKEN_ATTRIBUTES). */
const SPECIAL_TOKENS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

function checkFiles(dir: string): void {
  for (const f of TOKENIZER_FILES) {
    const path = join(dir, f);
    if (!existsSync(path)) continue;
    const st = statSync(path);
    if (!st.isFile()) throw new RetrievalLensError('NO_TOKENIZER', `${f} in ${dir} is not a regular file`);
    if (st.size > MAX_TOKENIZER_BYTES)
      throw new RetrievalLensError(
        'NO_TOKENIZER',
        `${f} in ${dir} is ${Math.round(st.size / 1024 / 1024)} MB, more than the ${MAX_TOKENIZER_BYTES / 1024 / 1024} MB accepted`,
      );
  }
}

/** The template text a user turn is rendered with, or null without one; throws for an unusable one. */
function chatTemplateOf(tok: HfTokenizer): string | null {
  const raw = (tok as unknown as { chat_template?: unknown }).chat_template;
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'object' && typeof (raw as Record<string, unknown>).default === 'string')
    return (raw as Record<string, string>).default;
  throw new RetrievalLensError(
    'CHAT_TEMPLATE',
    `the tokenizer's chat_template is neither a template nor a set of templates with a "default" one`,
  );
}

/** Special-token strings from the tokenizer config, as transformers.js passes them to templates. */
function specialTokens(tok: HfTokenizer): Record<string, string> {
  const config = ((tok as unknown as { config?: Record<string, unknown> }).config ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const key of SPECIAL_TOKENS) {
    const v = config[key];
    if (typeof v === 'string' && v) out[key] = v;
    else if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
      out[key] = (v as { content: string }).content;
  }
  return out;
}

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new RetrievalLensError('NO_TOKENIZER', `model folder has no tokenizer.json: ${dir}`);
  }
  checkFiles(dir);
  const allowRemote = env.allowRemoteModels;
  const localPath = env.localModelPath;
  let tok: HfTokenizer;
  try {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = '';
    tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    throw new RetrievalLensError(
      'NO_TOKENIZER',
      `cannot load the tokenizer in ${dir}: ${((e as Error)?.message ?? String(e)).split('\n')[0]}`,
    );
  } finally {
    env.allowRemoteModels = allowRemote;
    env.localModelPath = localPath;
  }
  let nl: number[];
  try {
    nl = tok.encode('\n', { add_special_tokens: false });
  } catch (e) {
    throw new RetrievalLensError(
      'NO_TOKENIZER',
      `the tokenizer in ${dir} cannot encode text: ${((e as Error)?.message ?? String(e)).split('\n')[0]}`,
    );
  }
  const template = chatTemplateOf(tok);
  const special = template === null ? {} : specialTokens(tok);
  return {
    encode: (text, opts) => tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }),
    // transformers.js refuses an empty list; no tokens decode to no text.
    decode: (ids, opts) => (ids.length ? tok.decode(ids, { skip_special_tokens: opts?.skipSpecialTokens ?? false }) : ''),
    hasChatTemplate: template !== null,
    applyChatTemplate: (content) =>
      template === null
        ? null
        : renderChatTemplate(template, { messages: [{ role: 'user', content }], add_generation_prompt: true, ...special }),
    newlineTokenId: nl.length ? nl[nl.length - 1] : null,
  };
}
