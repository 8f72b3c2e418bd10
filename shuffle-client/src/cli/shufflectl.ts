// shufflectl: operate Pegasus servers.
//   shufflectl --server host:port[,host:port...] [--json] <command> [options]
// Exit codes: 0 success, 1 failure, 2 usage error.
import { Connection } from '../connection.js';
import { unregisterApp, unregisterShuffle } from '../control.js';
import { PegasusError } from '../../../schemas/ts/errors.js';

const USAGE = `usage: shufflectl --server host:port[,host:port...] [--json] <command> [options]

commands:
  status                          health and key numbers of each server
  metrics                         the server's Prometheus metrics (--json: parsed)
  cleanup --app APP [--shuffle N] remove a shuffle, or a whole application, and its files

options:
  --server LIST   servers to talk to (default 127.0.0.1:9527)
  --json          machine-readable output
  --help          this text

exit codes: 0 success, 1 failure, 2 usage error`;

class UsageError extends Error {}

interface Args {
  servers: string[];
  json: boolean;
  command: string;
  app?: string;
  shuffle?: number;
}

function parseArgs(argv: string[]): Args | 'help' {
  const args: Args = { servers: ['127.0.0.1:9527'], json: false, command: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') return 'help';
    else if (a === '--json') args.json = true;
    else if (a === '--server') args.servers = value().split(',').filter((s) => s.length > 0);
    else if (a === '--app') args.app = value();
    else if (a === '--shuffle') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new UsageError('--shuffle needs a non-negative integer');
      args.shuffle = n;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (args.command === '') args.command = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (args.command === '') throw new UsageError('no command given');
  if (args.servers.length === 0) throw new UsageError('--server needs at least one host:port');
  return args;
}

async function fetchText(server: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${server}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/** Parses Prometheus text into `name{labels}` -> value. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

async function status(server: string): Promise<Record<string, unknown>> {
  const health = await fetchText(server, '/healthz');
  const m = parseMetrics((await fetchText(server, '/metrics')).body);
  return {
    server,
    healthy: health.status === 200,
    ...(JSON.parse(health.body) as Record<string, unknown>),
    apps: m['pegasus_apps'],
    shuffles: m['pegasus_shuffles'],
    memoryUsedBytes: m['pegasus_memory_used_bytes'],
    memoryBudgetBytes: m['pegasus_memory_budget_bytes'],
    diskUsedBytes: m['pegasus_disk_used_bytes'],
    connections: m['pegasus_connections'],
  };
}

async function cleanup(server: string, args: Args): Promise<Record<string, unknown>> {
  if (args.app === undefined) throw new UsageError('cleanup needs --app APP');
  const conn = await Connection.connect(server);
  try {
    if (args.shuffle !== undefined) await unregisterShuffle(conn, args.app, args.shuffle);
    else await unregisterApp(conn, args.app);
  } finally {
    await conn.close();
  }
  return { server, removed: args.shuffle !== undefined ? `${args.app}/${args.shuffle}` : args.app };
}

function printTable(rows: Array<Record<string, unknown>>): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(cols)}\n${cells.map(line).join('\n')}\n`);
}

export async function run(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`shufflectl: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const a = args;
  try {
    if (a.command === 'metrics') {
      const texts = await Promise.all(a.servers.map(async (s) => ({ server: s, text: (await fetchText(s, '/metrics')).body })));
      if (a.json) process.stdout.write(`${JSON.stringify(texts.map((t) => ({ server: t.server, metrics: parseMetrics(t.text) })))}\n`);
      else for (const t of texts) process.stdout.write(`${a.servers.length > 1 ? `# server ${t.server}\n` : ''}${t.text}`);
      return 0;
    }
    let rows: Array<Record<string, unknown>>;
    if (a.command === 'status') rows = await Promise.all(a.servers.map(status));
    else if (a.command === 'cleanup') rows = await Promise.all(a.servers.map((s) => cleanup(s, a)));
    else throw new UsageError(`unknown command ${a.command}`);
    if (a.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else printTable(rows);
    return rows.every((r) => r['healthy'] !== false) ? 0 : 1;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`shufflectl: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    const code = err instanceof PegasusError ? err.code : 'CONNECTION_CLOSED';
    const message = err instanceof Error ? err.message : String(err);
    if (a.json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
    else process.stderr.write(`shufflectl: ${code}: ${message}\n`);
    return 1;
  }
}
