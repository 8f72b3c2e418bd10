// Human units for tables: bytes in binary units (KiB, MiB, GiB...), rates,
// durations ("3d 4h", "12m 5s", "850 ms").

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  if (bytes >= Number.MAX_SAFE_INTEGER) return 'unbounded';
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (u === 0) return `${sign}${v} B`;
  return `${sign}${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${BYTE_UNITS[u]}`;
}

export function formatRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined ? '-' : `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** "5m 3s ago" from an epoch-ms timestamp. */
export function formatAgo(atMs: number | undefined, nowMs: number = Date.now()): string {
  if (atMs === undefined || !Number.isFinite(atMs) || atMs <= 0) return '-';
  return `${formatDuration(Math.max(0, nowMs - atMs))} ago`;
}

export function formatCount(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '-' : String(n);
}
