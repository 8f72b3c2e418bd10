// `shufflectl decommission`: start (POST), cancel (DELETE) or show (GET)
// decommissioning on every server; `--wait` then polls GET until every
// server is drained (no shuffle left), with a progress line on a terminal,
// and gives up after --timeout (default 600 s) with TIMEOUT.
import type { DecommissionStatus, Received } from '../../../../schemas/ts/admin-api.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import { UsageError, type Failure } from '../failure.js';
import { fanOut, serversJson, type ServerResult } from '../fan-out.js';
import { DECOMMISSION_POLL_MS_DEFAULT, DECOMMISSION_WAIT_MS_DEFAULT, INTERVAL_MS_MAX, INTERVAL_MS_MIN, REQUEST_TIMEOUT_MS_DEFAULT } from '../limits.js';
import { Progress } from '../progress.js';
import { renderTable, type Column } from '../table.js';
import { formatCount, formatDuration } from '../units.js';

/** GET/POST/DELETE /api/v1/decommission. */
type DecommissionState = Received<DecommissionStatus>;

const columns: Array<Column<ServerResult<DecommissionState>>> = [
  { header: 'SERVER', cell: (r) => r.server },
  { header: 'STATE', cell: (r) => (r.ok ? r.value.state ?? '-' : `failed (${r.error.code})`) },
  { header: 'SHUFFLES', cell: (r) => (r.ok ? formatCount(r.value.shuffles) : '-'), right: true },
];

const PATH = '/api/v1/decommission';

function print(ctx: Context, results: ReadonlyArray<ServerResult<DecommissionState>>, error: Failure | undefined, extra: Record<string, unknown> = {}): void {
  if (ctx.json) ctx.printJson(jsonDocument(error === undefined, { ...extra, servers: serversJson(results, (v) => ({ ...v })) }, error));
  else ctx.stdout.write(renderTable(columns, results));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitDrained(ctx: Context, started: ReadonlyArray<ServerResult<DecommissionState>>): Promise<number> {
  const waitMs = ctx.timeoutMs(DECOMMISSION_WAIT_MS_DEFAULT);
  const pollMs = ctx.number('interval') ?? DECOMMISSION_POLL_MS_DEFAULT;
  const deadlineMs = Date.now() + waitMs;
  const progress = new Progress(ctx.stderr);
  let results = started;
  for (;;) {
    const drained = results.filter((r) => r.ok && r.value.state === 'drained').length;
    const left = results.reduce((n, r) => n + (r.ok ? r.value.shuffles ?? 0 : 0), 0);
    progress.update(drained, results.length, `servers drained, ${left} shuffles left (${formatDuration(deadlineMs - Date.now())} to go)`, true);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      // A server that cannot be asked cannot be known to be drained: stop rather than wait out the timeout.
      progress.finish();
      reportFailures(ctx, results);
      print(ctx, results, (failed[0] as { error: Failure }).error, { drained: false });
      return exitOf(false);
    }
    const notDecommissioning = results.find((r) => r.ok && r.value.state === 'active');
    if (notDecommissioning !== undefined) {
      progress.finish();
      const error = { code: 'CONFLICT', message: `${notDecommissioning.server}: decommissioning was cancelled while waiting` };
      if (!ctx.json) ctx.printError(error);
      print(ctx, results, error, { drained: false });
      return exitOf(false);
    }
    if (drained === results.length) {
      progress.finish();
      print(ctx, results, undefined, { drained: true });
      return exitOf(true);
    }
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0) {
      progress.finish();
      const error = { code: 'TIMEOUT', message: `${results.length - drained} of ${results.length} servers not drained after ${formatDuration(waitMs)} (${left} shuffles left)` };
      if (!ctx.json) ctx.printError(error);
      print(ctx, results, error, { drained: false });
      return exitOf(false);
    }
    await sleep(Math.min(pollMs, remainingMs));
    // Each poll has the ordinary request bound, not what is left of the wait: the last poll
    // near the deadline must still get an answer, so the final table shows real states.
    results = await fanOut(ctx.servers, (s) => ctx.client(s, REQUEST_TIMEOUT_MS_DEFAULT).get<DecommissionState>(PATH));
  }
}

export const decommission: Command = {
  name: 'decommission',
  summary: 'stop new shuffles on the servers (existing ones go on); --wait until drained',
  synopsis: '[--cancel | --show | --wait [--interval S] [--timeout S]]',
  options: ['cancel', 'wait', 'show', 'interval'],
  details: [
    'A decommissioning server refuses new shuffles (DECOMMISSIONING) and keeps serving the ones it',
    'has; it is drained once none is left. --wait polls every --interval seconds (default 1) until',
    'every server is drained, for at most --timeout seconds (default 600). --cancel returns the',
    'servers to active; --show only prints the state.',
  ].join('\n'),
  check(ctx: Context): void {
    const modes = ['cancel', 'wait', 'show'].filter((m) => ctx.flag(m as 'cancel'));
    if (modes.length > 1) throw new UsageError(`decommission takes one of --cancel, --show, --wait, not ${modes.map((m) => `--${m}`).join(' and ')}`);
    if (ctx.number('interval') !== undefined && !ctx.flag('wait')) throw new UsageError('decommission --interval needs --wait');
    const interval = ctx.number('interval');
    if (interval !== undefined && (interval < INTERVAL_MS_MIN || interval > INTERVAL_MS_MAX)) {
      throw new UsageError(`--interval must be between ${INTERVAL_MS_MIN / 1000} and ${INTERVAL_MS_MAX / 1000} seconds`);
    }
  },
  async run(ctx: Context): Promise<number> {
    const wait = ctx.flag('wait');
    const requestMs = wait ? Math.min(REQUEST_TIMEOUT_MS_DEFAULT, ctx.timeoutMs(DECOMMISSION_WAIT_MS_DEFAULT)) : ctx.timeoutMs();
    const results = await fanOut(ctx.servers, (s) => {
      const c = ctx.client(s, requestMs);
      if (ctx.flag('cancel')) return c.delete<DecommissionState>(PATH);
      if (ctx.flag('show')) return c.get<DecommissionState>(PATH);
      return c.post<DecommissionState>(PATH, {});
    });
    if (wait && results.every((r) => r.ok)) return waitDrained(ctx, results);
    const failed = reportFailures(ctx, results);
    print(ctx, results, failed[0]?.error);
    return exitOf(failed.length === 0);
  },
};
