// `shufflectl shuffles [--app APP]`: the shuffles of every server, merged
// (merge.ts: bytes summed, committed maps the largest of any server).
import { checkAppId } from '../../../../schemas/ts/ids.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import { fanOut, serversJson } from '../fan-out.js';
import { mergeShuffles, type MergedShuffle, type ShuffleInfo } from '../merge.js';
import { renderTable, type Column } from '../table.js';
import { formatAgo, formatBytes, formatCount } from '../units.js';

export function shufflesPath(app: string | undefined): string {
  return app === undefined ? '/api/v1/shuffles' : `/api/v1/shuffles?app=${encodeURIComponent(checkAppId(app))}`;
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
    const path = shufflesPath(ctx.string('app'));
    const results = await fanOut(ctx.servers, (s) => ctx.client(s).get<{ shuffles?: ShuffleInfo[] }>(path));
    const failed = reportFailures(ctx, results);
    const merged = mergeShuffles(results);
    const ok = failed.length === 0;
    if (ctx.json) {
      ctx.printJson(jsonDocument(ok, { shuffles: merged, servers: serversJson(results, (v) => ({ shuffles: v.shuffles ?? [] })) }, failed[0]?.error));
    } else if (merged.length > 0) {
      ctx.stdout.write(renderTable(columns(Date.now()), merged));
    } else if (ok) {
      ctx.stdout.write('no shuffles\n');
    }
    return exitOf(ok);
  },
};
