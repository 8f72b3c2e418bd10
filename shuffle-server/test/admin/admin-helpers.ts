// Helpers for the admin API tests: JSON calls with an optional token, and
// committed data written over the raw protocol (the model of shuffle-model.ts).
import { RawClient } from '../helpers/raw-client.js';
import { makeBatch, pushBatch, rng, type ModelBlock } from '../helpers/shuffle-model.js';

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** One admin call; `body` is sent as JSON unless it is a string (sent as is). */
export async function api(address: string, method: string, path: string, opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers['Authorization'] = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(`http://${address}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the test looks at text
  }
  return { status: res.status, body: parsed, text };
}

/** Pushes `batches` batches of map `mapId` attempt 1 and commits them; returns the blocks. */
export async function writeCommitted(c: RawClient, appId: string, shuffleId: number, mapId: number, batches: number, numPartitions: number, maxBytes = 50_000): Promise<ModelBlock[]> {
  const r = rng(mapId + 100 * shuffleId + 7);
  const blocks: ModelBlock[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = makeBatch(r, mapId, 1, b, numPartitions, 6, maxBytes);
    await pushBatch(c, appId, shuffleId, batch);
    blocks.push(...batch);
  }
  await commit(c, appId, shuffleId, mapId, batches);
  return blocks;
}

export async function commit(c: RawClient, appId: string, shuffleId: number, mapId: number, batchCount: number): Promise<void> {
  const f = await c.request({ type: 'CommitMap', appId, shuffleId, mapId, attempt: 1, batchCount });
  if (f.message.type !== 'CommitAck' || !f.message.won) throw new Error(`commit failed: ${JSON.stringify(f.message)}`);
}

export async function register(c: RawClient, appId: string, shuffleId: number, numMaps: number, numPartitions: number): Promise<{ type: string; code?: number }> {
  const f = await c.request({ type: 'RegisterShuffle', appId, shuffleId, numMaps, numPartitions });
  return f.message as { type: string; code?: number };
}

/** Sample values of one series in a Prometheus text page (`name` or `name{labels}` exactly). */
export function metricValue(page: string, series: string): number | null {
  for (const line of page.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (line.slice(0, sp) === series) return Number(line.slice(sp + 1));
  }
  return null;
}

/** Checks that every line of a Prometheus text page is a comment or `name{labels} value`; returns the first bad line. */
export function badMetricLine(page: string): string | null {
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?([0-9.e+-]+|\+Inf|NaN)$/;
  for (const line of page.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    if (!sample.test(line)) return line;
  }
  return null;
}
