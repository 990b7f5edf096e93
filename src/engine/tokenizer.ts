// Loads a model folder's tokenizer with @huggingface/transformers, never from the network.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { RetrievalLensError } from './errors.js';
import type { TextTokenizer } from './types.js';

type HfTokenizer = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new RetrievalLensError('NO_TOKENIZER', `model folder has no tokenizer.json: ${dir}`);
  }
  const allowRemote = env.allowRemoteModels;
  const localPath = env.localModelPath;
  let tok: HfTokenizer;
  try {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = '';
    tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    throw new RetrievalLensError('NO_TOKENIZER', `cannot load the tokenizer in ${dir}: ${(e as Error).message}`);
  } finally {
    env.allowRemoteModels = allowRemote;
    env.localModelPath = localPath;
  }
  const nl = tok.encode('\n', { add_special_tokens: false });
  const hasTemplate = Boolean((tok as unknown as { chat_template?: unknown }).chat_template);
  return {
    encode: (text, opts) => tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }),
    decode: (ids, opts) => tok.decode(ids, { skip_special_tokens: opts?.skipSpecialTokens ?? false }),
    applyChatTemplate: (content) =>
      hasTemplate ? (tok.apply_chat_template([{ role: 'user', content }], { tokenize: false, add_generation_prompt: true }) as string) : null,
    newlineTokenId: nl.length ? nl[nl.length - 1] : null,
  };
}
