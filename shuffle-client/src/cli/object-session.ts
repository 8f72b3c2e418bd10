// The data-plane side of shufflectl's file commands (ls, stat, du, rm, put,
// get): one WebSocket connection per server, opened on first use, and the
// server owning each path (path-owner.ts). Closed once the command ends.
import { Connection } from '../connection.js';
import { ownerIndex } from '../path-owner.js';
import type { Context } from './context.js';

export class ObjectSession {
  private readonly conns = new Map<string, Promise<Connection>>();

  constructor(private readonly ctx: Context) {}

  /** The connection to `server`. */
  conn(server: string): Promise<Connection> {
    let c = this.conns.get(server);
    if (c === undefined) {
      c = Connection.connect(server, { requestTimeoutMs: this.ctx.timeoutMs(), connectTimeoutMs: this.ctx.timeoutMs() });
      c.catch(() => undefined);
      this.conns.set(server, c);
    }
    return c;
  }

  /** The servers holding `path`: its owner, or every server for the root. */
  serversOf(path: string): string[] {
    const i = ownerIndex(path, this.ctx.servers.length);
    return i === null ? [...this.ctx.servers] : [this.ctx.servers[i]!];
  }

  /** The connection to the server owning `path` (the first server for the root). */
  owner(path: string): Promise<Connection> {
    return this.conn(this.serversOf(path)[0]!);
  }

  async close(): Promise<void> {
    await Promise.all([...this.conns.values()].map((c) => c.then((x) => x.close(), () => undefined)));
  }

  /** Runs `fn` and closes every connection after. */
  static async with<T>(ctx: Context, fn: (s: ObjectSession) => Promise<T>): Promise<T> {
    const s = new ObjectSession(ctx);
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  }
}
