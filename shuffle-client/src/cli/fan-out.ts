// Talks to every server at once and keeps each one's answer or failure, so
// one unreachable server never hides the others' answers.
import { toFailure, type Failure } from './failure.js';

export type ServerResult<T> = { server: string; ok: true; value: T } | { server: string; ok: false; error: Failure };

export async function fanOut<T>(servers: readonly string[], fn: (server: string) => Promise<T>): Promise<Array<ServerResult<T>>> {
  return Promise.all(servers.map(async (server): Promise<ServerResult<T>> => {
    try {
      return { server, ok: true, value: await fn(server) };
    } catch (err) {
      return { server, ok: false, error: toFailure(err) };
    }
  }));
}

export function failuresOf<T>(results: ReadonlyArray<ServerResult<T>>): Array<{ server: string; error: Failure }> {
  const out: Array<{ server: string; error: Failure }> = [];
  for (const r of results) if (!r.ok) out.push({ server: r.server, error: r.error });
  return out;
}

/** The per-server part of a --json document: `{server, ...value}` or `{server, error}`. */
export function serversJson<T>(results: ReadonlyArray<ServerResult<T>>, shape: (value: T) => Record<string, unknown>): Array<Record<string, unknown>> {
  return results.map((r) => (r.ok ? { server: r.server, ...shape(r.value) } : { server: r.server, error: r.error }));
}
