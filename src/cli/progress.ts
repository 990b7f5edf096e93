// One progress line on stderr: "[12/30] 40% ETA 1m05s  detail".
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressLine(done: number, total: number, etaMs: number, detail = ''): string {
  const pct = total ? Math.round((100 * done) / total) : 100;
  return `[${done}/${total}] ${pct}% ETA ${formatDuration(etaMs)}${detail ? '  ' + detail : ''}\n`;
}
