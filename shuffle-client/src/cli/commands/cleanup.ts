// `shufflectl cleanup`: remove one application or shuffle from every server
// (DELETE), or ask every server to remove expired applications and orphan
// files (POST /api/v1/cleanup).
//
// Removing by id: a server that does not hold the target answers
// UNKNOWN_APP / UNKNOWN_SHUFFLE. That is the command's failure only when no
// server held it (there was nothing to remove); otherwise it is reported for
// that server and the removal from the others is the success.
import type { CleanupBody, CleanupResult, Received, RemoveAppResponse, RemoveShuffleResponse } from '../../../../schemas/ts/admin-api.js';
import { checkAppId } from '../../../../schemas/ts/ids.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import type { Failure } from '../failure.js';
import { UsageError } from '../failure.js';
import { fanOut, serversJson, type ServerResult } from '../fan-out.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes } from '../units.js';

/** DELETE of an application or of a shuffle. */
type Removed = Received<RemoveAppResponse> | Received<RemoveShuffleResponse>;
type SweepAnswer = Received<CleanupResult>;

/** Shuffles removed with an application; undefined for the removal of one shuffle. */
function shufflesOf(v: Removed): number | undefined {
  return v.removed !== undefined && 'shuffles' in v.removed ? v.removed.shuffles : undefined;
}

const isAbsence = (f: Failure): boolean => f.code === 'UNKNOWN_APP' || f.code === 'UNKNOWN_SHUFFLE';

const removeColumns: Array<Column<ServerResult<Removed>>> = [
  { header: 'SERVER', cell: (r) => r.server },
  { header: 'RESULT', cell: (r) => (r.ok ? 'removed' : isAbsence(r.error) ? `not there (${r.error.code})` : `failed (${r.error.code})`) },
  { header: 'SHUFFLES', cell: (r) => (r.ok && shufflesOf(r.value) !== undefined ? String(shufflesOf(r.value)) : '-'), right: true },
  { header: 'FREED', cell: (r) => (r.ok ? formatBytes(r.value.removed?.diskBytes) : '-'), right: true },
];

async function removeById(ctx: Context, app: string, shuffle: number | undefined): Promise<number> {
  checkAppId(app);
  const path = shuffle === undefined
    ? `/api/v1/apps/${encodeURIComponent(app)}`
    : `/api/v1/apps/${encodeURIComponent(app)}/shuffles/${shuffle}`;
  const target = shuffle === undefined ? `application ${app}` : `shuffle ${app}/${shuffle}`;
  const results = await fanOut(ctx.servers, (s) => ctx.client(s).delete<Removed>(path));
  const hard = results.filter((r) => !r.ok && !isAbsence(r.error));
  const removedSomewhere = results.some((r) => r.ok);
  let error: Failure | undefined;
  if (hard.length > 0) {
    error = (hard[0] as { error: Failure }).error;
    if (!ctx.json) for (const r of hard) if (!r.ok) ctx.printError(r.error);
  } else if (!removedSomewhere) {
    const absent = results.find((r) => !r.ok) as { error: Failure } | undefined;
    error = { code: absent?.error.code ?? (shuffle === undefined ? 'UNKNOWN_APP' : 'UNKNOWN_SHUFFLE'), message: `${target} is on none of ${ctx.servers.join(',')}` };
    if (!ctx.json) ctx.printError(error);
  }
  const ok = error === undefined;
  if (ctx.json) {
    const fields = { target: { appId: app, ...(shuffle !== undefined ? { shuffleId: shuffle } : {}) }, servers: serversJson(results, (v) => ({ ...v })) };
    ctx.printJson(jsonDocument(ok, fields, error));
  } else {
    ctx.stdout.write(renderTable(removeColumns, results));
  }
  return exitOf(ok);
}

const sweepColumns = (dryRun: boolean): Array<Column<{ server: string; a: SweepAnswer }>> => [
  { header: 'SERVER', cell: (r) => r.server },
  { header: 'EXPIRED APPS', cell: (r) => String(r.a.expiredApps?.length ?? 0), right: true },
  { header: 'ORPHANS', cell: (r) => String(r.a.orphans?.length ?? 0), right: true },
  { header: dryRun ? 'WOULD FREE' : 'FREED', cell: (r) => formatBytes(r.a.freedBytes), right: true },
];

async function sweep(ctx: Context): Promise<number> {
  const body = { expired: ctx.flag('expired'), orphans: ctx.flag('orphans'), dryRun: ctx.flag('dry-run') } satisfies CleanupBody;
  const results = await fanOut(ctx.servers, (s) => ctx.client(s).post<SweepAnswer>('/api/v1/cleanup', body));
  const failed = reportFailures(ctx, results);
  const ok = failed.length === 0;
  if (ctx.json) {
    ctx.printJson(jsonDocument(ok, { dryRun: body.dryRun, servers: serversJson(results, (v) => ({ ...v })) }, failed[0]?.error));
    return exitOf(ok);
  }
  const rows: Array<{ server: string; a: SweepAnswer }> = [];
  for (const r of results) if (r.ok) rows.push({ server: r.server, a: r.value });
  if (rows.length === 0) return exitOf(ok);
  ctx.stdout.write(renderTable(sweepColumns(body.dryRun), rows));
  const verb = body.dryRun ? 'would remove' : 'removed';
  for (const r of rows) {
    for (const app of r.a.expiredApps ?? []) ctx.stdout.write(`${r.server}: ${verb} expired application ${app}\n`);
    for (const o of r.a.orphans ?? []) ctx.stdout.write(`${r.server}: ${verb} orphan ${o.path} (${formatBytes(o.bytes)})\n`);
  }
  return exitOf(ok);
}

export const cleanup: Command = {
  name: 'cleanup',
  summary: 'remove an application or a shuffle, or expired applications and orphan files',
  synopsis: '--app APP [--shuffle N] | [--expired] [--orphans] [--dry-run]',
  options: ['app', 'shuffle', 'expired', 'orphans', 'dry-run'],
  details: [
    'With --app, removes the application (or its shuffle N) from every server that has it;',
    'it is a failure (UNKNOWN_APP, UNKNOWN_SHUFFLE) only when no server has it.',
    'With --expired and/or --orphans, each server removes applications silent longer than its',
    'appExpiryMs and files no index row names; --dry-run lists them and removes nothing.',
  ].join('\n'),
  check(ctx: Context): void {
    const byId = ctx.string('app') !== undefined;
    const sweeping = ctx.flag('expired') || ctx.flag('orphans');
    if (ctx.number('shuffle') !== undefined && !byId) throw new UsageError('cleanup --shuffle needs --app');
    if (byId && (sweeping || ctx.flag('dry-run'))) throw new UsageError('cleanup --app does not combine with --expired, --orphans or --dry-run');
    if (!byId && !sweeping) throw new UsageError(ctx.flag('dry-run') ? 'cleanup --dry-run needs --expired or --orphans' : 'cleanup needs --app APP, --expired or --orphans');
  },
  run(ctx: Context): Promise<number> {
    const app = ctx.string('app');
    return app !== undefined ? removeById(ctx, app, ctx.number('shuffle')) : sweep(ctx);
  },
};
