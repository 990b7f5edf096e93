// Bounded reads of the text files a user names (prompts, haystacks, needles, score files, model
// JSON): a regular file of at most `maxBytes`, UTF-8 (a BOM is dropped), no NUL bytes. A FIFO,
// a device such as /dev/zero, a directory or a file over the limit is refused with one line
// before anything is read, so no input can hang a run or fill the memory.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { RetrievalLensError, type ErrorCode } from './errors.js';

export const MB = 1024 * 1024;

export interface ReadTextOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** What the file is, for messages ("--prompt-file", "needles file", ...). */
  what: string;
  /** Error code of the refusals; BAD_INPUT by default. */
  code?: ErrorCode;
}

const size = (n: number) =>
  n >= MB ? `${(n / MB).toFixed(n >= 10 * MB ? 0 : 1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} bytes`;

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Text of bytes read from a file or received by the extension: UTF-8 without a BOM. Binary data
 * (NUL bytes, invalid UTF-8) and UTF-16 are refused rather than read as garbage.
 */
export function decodeText(bytes: Uint8Array, what: string, code: ErrorCode = 'BAD_INPUT'): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new RetrievalLensError(code, `${what} is UTF-16 text; save it as UTF-8`);
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const body = bytes.subarray(start);
  if (body.indexOf(0) >= 0) throw new RetrievalLensError(code, `${what} is not a text file (it holds NUL bytes)`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new RetrievalLensError(code, `${what} is not UTF-8 text`);
  }
}

/** Refuses anything but a regular file of at most `maxBytes`; then reads and decodes it. */
export function readTextFile(path: string, opts: ReadTextOptions): string {
  const code = opts.code ?? 'BAD_INPUT';
  const label = `${opts.what} ${path}`;
  if (!path) throw new RetrievalLensError(code, `${opts.what}: no file name given`);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not wait for one.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EACCES' || err.code === 'EPERM'
          ? 'permission denied'
          : err.code === 'EISDIR'
            ? 'it is a folder'
            : err.message.split('\n')[0];
    throw new RetrievalLensError(code, `cannot read ${label}: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new RetrievalLensError(code, `cannot read ${label}: it is ${kind(st)}, not a text file`);
    if (st.size > opts.maxBytes)
      throw new RetrievalLensError(code, `${label} is ${size(st.size)}, more than the ${size(opts.maxBytes)} accepted`);
    // The size can change under us: read until the end, but never more than one byte past the limit.
    const chunks: Buffer[] = [];
    let got = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size - got, 64 * 1024), opts.maxBytes + 1 - got));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        throw new RetrievalLensError(code, `cannot read ${label}: ${(e as Error).message.split('\n')[0]}`);
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      got += n;
      if (got > opts.maxBytes) throw new RetrievalLensError(code, `${label} is more than the ${size(opts.maxBytes)} accepted`);
    }
    return decodeText(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, got), label, code);
  } finally {
    closeSync(fd);
  }
}
