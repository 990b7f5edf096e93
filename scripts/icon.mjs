// media/icon.png, the Marketplace icon (a PNG: vsce takes no SVG there): a grid of attention heads,
// two of them lit (the retrieval heads), under a lens. Drawn from signed distances with 4x4
// supersampling and written by a small PNG encoder, so no image library is needed.
//   node scripts/icon.mjs
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const SIZE = 256;
const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

// Signed distances (negative inside), in pixels.
const roundRect = (x, y, cx, cy, hw, hh, r) => {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};
const circle = (x, y, cx, cy, r) => Math.hypot(x - cx, y - cy) - r;
const capsule = (x, y, ax, ay, bx, by, r) => {
  const [px, py, dx, dy] = [x - ax, y - ay, bx - ax, by - ay];
  const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - dx * t, py - dy * t) - r;
};

const hex = (h, a = 1) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), a];

// The 4 x 4 heads; two retrieval heads lit, one of them under the lens.
const CELL = 34;
const GAP = 12;
const ORIGIN = 46;
const LIT = new Set(['2,2', '1,3']);
const cells = [];
for (let r = 0; r < 4; r++)
  for (let c = 0; c < 4; c++)
    cells.push({ cx: ORIGIN + c * (CELL + GAP) + CELL / 2, cy: ORIGIN + r * (CELL + GAP) + CELL / 2, lit: LIT.has(`${r},${c}`) });
const lens = { cx: ORIGIN + 2 * (CELL + GAP) + CELL / 2, cy: ORIGIN + 2 * (CELL + GAP) + CELL / 2, r: 50 };

/** Colour (straight RGBA) at one sample point: layers painted bottom to top. */
function sample(x, y) {
  let out = [0, 0, 0, 0];
  const paint = (rgba) => {
    const a = rgba[3] + out[3] * (1 - rgba[3]);
    if (a === 0) return;
    out = [0, 1, 2].map((i) => (rgba[i] * rgba[3] + out[i] * out[3] * (1 - rgba[3])) / a).concat(a);
  };
  if (roundRect(x, y, SIZE / 2, SIZE / 2, SIZE / 2 - 4, SIZE / 2 - 4, 48) > 0) return out;
  // Background: navy, a little lighter at the top.
  const t = y / SIZE;
  paint([27 + 14 * (1 - t), 42 + 18 * (1 - t), 65 + 26 * (1 - t), 1]);
  const inLens = circle(x, y, lens.cx, lens.cy, lens.r) < 0;
  for (const c of cells)
    if (roundRect(x, y, c.cx, c.cy, CELL / 2, CELL / 2, 7) < 0)
      paint(c.lit ? hex(inLens ? '#ffc857' : '#f2a541') : hex(inLens ? '#6f8fb8' : '#48668d'));
  // The glass brightens what it covers; then its rim and handle.
  if (inLens) paint([255, 255, 255, 0.1]);
  if (Math.abs(circle(x, y, lens.cx, lens.cy, lens.r)) < 6) paint(hex('#f4f6fa'));
  if (capsule(x, y, lens.cx + 40, lens.cy + 40, lens.cx + 78, lens.cy + 78, 10) < 0) paint(hex('#f4f6fa'));
  return out;
}

function render() {
  const px = Buffer.alloc(SIZE * SIZE * 4);
  const n = 4;
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const acc = [0, 0, 0, 0];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const s = sample(x + (i + 0.5) / n, y + (j + 0.5) / n);
          for (let k = 0; k < 3; k++) acc[k] += s[k] * s[3];
          acc[3] += s[3];
        }
      const o = (y * SIZE + x) * 4;
      for (let k = 0; k < 3; k++) px[o + k] = acc[3] ? Math.round(acc[k] / acc[3]) : 0;
      px[o + 3] = Math.round((255 * acc[3]) / (n * n));
    }
  return px;
}

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
};

/** RGBA pixels as a PNG: 8-bit colour type 6, every scanline with filter 0. */
export function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const raw = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

writeFileSync(join(root, 'media', 'icon.png'), encodePng(SIZE, SIZE, render()));
