// Errors a user can act on. The CLI prints `error: <message>` (no stack) and exits non-zero;
// the extension shows the message in a notification. `code` lets callers and tests tell them apart.

export type ErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'NOT_A_MODEL'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'NO_TOKENIZER'
  | 'CHAT_TEMPLATE'
  | 'CORRUPT_ONNX'
  | 'FUSED_ATTENTION'
  | 'ATTENTION_NOT_FOUND'
  | 'CONFIG_MISMATCH'
  | 'CONTEXT_TOO_LONG'
  | 'EMPTY_INPUT'
  | 'BAD_INPUT'
  | 'BAD_SCORES_FILE'
  | 'DOWNLOAD_FAILED'
  | 'CANCELLED'
  | 'RUNTIME';

export class RetrievalLensError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RetrievalLensError';
  }
}

export function cancelled(): RetrievalLensError {
  return new RetrievalLensError('CANCELLED', 'cancelled');
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw cancelled();
}
