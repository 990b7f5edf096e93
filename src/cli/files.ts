// Reading the text files a user names (haystacks, prompts, needles, scores): bounded, so a device
// or a runaway file cannot exhaust memory, and with one clear line when it cannot be read.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { RetrievalLensError } from '../engine/index.js';

export const MAX_TEXT_BYTES = 64 * 1024 * 1024;

export function readTextFile(path: string, what: string, maxBytes = MAX_TEXT_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new RetrievalLensError('BAD_INPUT', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new RetrievalLensError('BAD_INPUT', `${what} ${path} is a folder, not a file`);
    if (st.isFile() && st.size > maxBytes) throw new RetrievalLensError('BAD_INPUT', `${what} ${path} is ${Math.round(st.size / 2 ** 20)} MB; the limit is ${maxBytes / 2 ** 20} MB`);
    // Devices and pipes have no size: read at most the limit and refuse anything longer.
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new RetrievalLensError('BAD_INPUT', `${what} ${path} is longer than the ${maxBytes / 2 ** 20} MB limit`);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    closeSync(fd);
  }
}
