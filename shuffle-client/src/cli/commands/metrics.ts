// `shufflectl metrics`: each server's /metrics (Prometheus text, or parsed
// with --json); `--watch` redraws a compact summary every interval until
// SIGINT or --count rounds. With --json, --watch prints one JSON document per
// round, one per line (JSON Lines), since a watch has no end to wait for.
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import { UsageError } from '../failure.js';
import { fanOut, serversJson, type ServerResult } from '../fan-out.js';
import { INTERVAL_MS_DEFAULT, INTERVAL_MS_MAX, INTERVAL_MS_MIN } from '../limits.js';
import { parseMetrics } from '../prometheus.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes, formatCount, formatRate } from '../units.js';
import { summarize, type Sample, type Summary } from '../watch-summary.js';

async function once(ctx: Context): Promise<number> {
  const results = await fanOut(ctx.servers, (s) => ctx.client(s).text('/metrics'));
  const failed = reportFailures(ctx, results);
  const ok = failed.length === 0;
  if (ctx.json) {
    ctx.printJson(jsonDocument(ok, { servers: serversJson(results, (text) => ({ metrics: parseMetrics(text) })) }, failed[0]?.error));
  } else {
    for (const r of results) if (r.ok) ctx.stdout.write(`${ctx.servers.length > 1 ? `# server ${r.server}\n` : ''}${r.value}`);
  }
  return exitOf(ok);
}

type Row = ServerResult<Summary>;

const columns: Array<Column<Row>> = [
  { header: 'SERVER', cell: (r) => r.server },
  { header: 'IN', cell: (r) => (r.ok ? formatRate(r.value.inBytesPerSecond) : r.error.code), right: true },
  { header: 'OUT', cell: (r) => (r.ok ? formatRate(r.value.outBytesPerSecond) : ''), right: true },
  { header: 'MEMORY USED/BUDGET', cell: (r) => (r.ok ? `${formatBytes(r.value.memoryUsedBytes)} / ${formatBytes(r.value.memoryBudgetBytes)}` : ''), right: true },
  { header: 'DISK', cell: (r) => (r.ok ? formatBytes(r.value.diskUsedBytes) : ''), right: true },
  { header: 'APPS', cell: (r) => (r.ok ? formatCount(r.value.apps) : ''), right: true },
  { header: 'SHUFFLES', cell: (r) => (r.ok ? formatCount(r.value.shuffles) : ''), right: true },
  { header: 'CONNS', cell: (r) => (r.ok ? formatCount(r.value.connections) : ''), right: true },
  { header: 'ERRORS', cell: (r) => (r.ok ? `${formatCount(r.value.errors)}${r.value.newErrors ? ` (+${r.value.newErrors})` : ''}` : ''), right: true },
];

/** Resolves after `ms`, or at once when `stop` fires. */
function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    }
    stop.addEventListener('abort', done);
  });
}

async function watch(ctx: Context): Promise<number> {
  const intervalMs = ctx.number('interval') ?? INTERVAL_MS_DEFAULT;
  const rounds = ctx.number('count') ?? Infinity;
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.on('SIGINT', onSigint);
  const previous = new Map<string, Sample>();
  const redraw = ctx.stdout.isTTY === true && !ctx.json;
  let everFailed = false;
  try {
    for (let round = 1; round <= rounds && !stop.signal.aborted; round++) {
      const startedMs = Date.now();
      const results = await fanOut(ctx.servers, async (s) => {
        const text = await ctx.client(s, Math.min(ctx.timeoutMs(), intervalMs * 10)).text('/metrics');
        const sample: Sample = { atMs: Date.now(), metrics: parseMetrics(text) };
        const summary = summarize(sample, previous.get(s));
        previous.set(s, sample);
        return summary;
      });
      if (results.some((r) => !r.ok)) everFailed = true;
      if (stop.signal.aborted) break;
      if (ctx.json) {
        ctx.stdout.write(`${JSON.stringify({ round, atMs: startedMs, intervalMs, servers: serversJson(results, (v) => ({ ...v })) })}\n`);
      } else {
        const head = `shufflectl metrics --watch: every ${intervalMs / 1000} s, round ${round}, ${new Date(startedMs).toISOString()}`;
        ctx.stdout.write(`${redraw ? '\x1b[H\x1b[2J' : round > 1 ? '\n' : ''}${head}\n${renderTable(columns, results)}`);
        for (const r of results) if (!r.ok) ctx.printError(r.error);
      }
      if (round < rounds) await sleep(Math.max(0, intervalMs - (Date.now() - startedMs)), stop.signal);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return exitOf(!everFailed);
}

export const metrics: Command = {
  name: 'metrics',
  summary: 'the Prometheus metrics (--json: parsed); --watch: a live summary with throughput',
  synopsis: '[--watch [--interval S] [--count N]]',
  options: ['watch', 'interval', 'count'],
  details: [
    '--watch redraws, every --interval seconds (default 2), one row per server: bytes per second',
    'pushed in and read out (from counter deltas), memory, disk, apps, shuffles, connections,',
    'errors; until Ctrl-C, or for --count rounds. With --json it prints one JSON line per round.',
  ].join('\n'),
  check(ctx: Context): void {
    if (!ctx.flag('watch') && (ctx.number('interval') !== undefined || ctx.number('count') !== undefined)) {
      throw new UsageError('metrics --interval and --count need --watch');
    }
    const interval = ctx.number('interval');
    if (interval !== undefined && (interval < INTERVAL_MS_MIN || interval > INTERVAL_MS_MAX)) {
      throw new UsageError(`--interval must be between ${INTERVAL_MS_MIN / 1000} and ${INTERVAL_MS_MAX / 1000} seconds`);
    }
  },
  run(ctx: Context): Promise<number> {
    return ctx.flag('watch') ? watch(ctx) : once(ctx);
  },
};
