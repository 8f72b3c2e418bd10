// `shufflectl shuffles [--app APP]`: the shuffles of every server, merged
// (merge.ts: bytes summed, committed maps the largest of any server).
import type { Received, ShufflesResponse } from '../../../../schemas/ts/admin-api.js';
import { checkAppId } from '../../../../schemas/ts/ids.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import type { Failure } from '../failure.js';
import { fanOut, serversJson, type ServerResult } from '../fan-out.js';
import { hasShuffleIds, mergeShuffles, type MergedShuffle, type ShuffleRow } from '../merge.js';
import { renderTable, type Column } from '../table.js';
import { formatAgo, formatBytes, formatCount } from '../units.js';

export function shufflesPath(app: string | undefined): string {
  return app === undefined ? '/api/v1/shuffles' : `/api/v1/shuffles?app=${encodeURIComponent(checkAppId(app))}`;
}

/**
 * GET /api/v1/shuffles[?app=APP] on every server. A server without the
 * application answers 404 UNKNOWN_APP (ADMIN_API.md "as built"); with --app
 * that is an empty list for that server, and UNKNOWN_APP for the command only
 * when no server has the application.
 */
export async function listShuffles(ctx: Context, app: string | undefined): Promise<{ results: Array<ServerResult<ShuffleRow[]>>; notFound: Failure | undefined }> {
  const path = shufflesPath(app);
  const raw = await fanOut(ctx.servers, (s) => ctx.client(s).get<Received<ShufflesResponse>>(path));
  const results = raw.map((r): ServerResult<ShuffleRow[]> => {
    if (r.ok) return { server: r.server, ok: true, value: (r.value.shuffles ?? []).filter(hasShuffleIds) };
    if (app !== undefined && r.error.code === 'UNKNOWN_APP') return { server: r.server, ok: true, value: [] };
    return r;
  });
  const absentEverywhere = app !== undefined && raw.every((r) => !r.ok && r.error.code === 'UNKNOWN_APP');
  const notFound = absentEverywhere ? { code: 'UNKNOWN_APP', message: `application ${app} is on none of ${ctx.servers.join(',')}` } : undefined;
  return { results, notFound };
}

function columns(nowMs: number): Array<Column<MergedShuffle>> {
  return [
    { header: 'APP', cell: (s) => s.appId },
    { header: 'SHUFFLE', cell: (s) => String(s.shuffleId), right: true },
    { header: 'MAPS', cell: (s) => `${formatCount(s.committedMaps)}/${formatCount(s.numMaps)}`, right: true },
    { header: 'PARTITIONS', cell: (s) => formatCount(s.numPartitions), right: true },
    { header: 'DISK', cell: (s) => formatBytes(s.diskBytes), right: true },
    { header: 'BUFFERED', cell: (s) => formatBytes(s.bufferedBytes), right: true },
    { header: 'PUSHED', cell: (s) => formatBytes(s.pushedBytes), right: true },
    { header: 'LAST ACTIVITY', cell: (s) => formatAgo(s.lastActivityMs, nowMs), right: true },
    { header: 'SERVERS', cell: (s) => s.servers.join(',') },
  ];
}

export const shuffles: Command = {
  name: 'shuffles',
  summary: 'shuffles of every server, one row each: bytes, partitions, committed maps, last activity',
  synopsis: '[--app APP]',
  options: ['app'],
  details: 'MAPS is committed/total; with several servers, committed is the largest count of any one server.',
  async run(ctx: Context): Promise<number> {
    const { results, notFound } = await listShuffles(ctx, ctx.string('app'));
    const failed = reportFailures(ctx, results);
    if (notFound !== undefined && !ctx.json) ctx.printError(notFound);
    const merged = mergeShuffles(results.map((r) => (r.ok ? { ...r, value: { shuffles: r.value } } : r)));
    const error = failed[0]?.error ?? notFound;
    const ok = error === undefined;
    if (ctx.json) {
      ctx.printJson(jsonDocument(ok, { shuffles: merged, servers: serversJson(results, (v) => ({ shuffles: v })) }, error));
    } else if (merged.length > 0) {
      ctx.stdout.write(renderTable(columns(Date.now()), merged));
    } else if (ok) {
      ctx.stdout.write('no shuffles\n');
    }
    return exitOf(ok);
  },
};
