// The Prometheus text format, read just far enough for shufflectl: sample
// lines `name{labels} value` into a map, comments skipped.

/** Parses Prometheus text into `name{labels}` -> value. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (i <= 0) continue;
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

/** Sum of every series of `name` (all label sets), or undefined when there is none. */
export function sumMetric(metrics: Record<string, number>, name: string): number | undefined {
  let sum: number | undefined;
  for (const [key, v] of Object.entries(metrics)) {
    if (key === name || key.startsWith(`${name}{`)) sum = (sum ?? 0) + v;
  }
  return sum;
}
