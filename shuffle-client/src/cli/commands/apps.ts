// `shufflectl apps`: the applications of every server, merged (merge.ts).
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import { fanOut, serversJson } from '../fan-out.js';
import type { AppsResponse, Received } from '../../../../schemas/ts/admin-api.js';
import { mergeApps, type MergedApp } from '../merge.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes, formatDuration } from '../units.js';

const columns: Array<Column<MergedApp>> = [
  { header: 'APP', cell: (a) => a.appId },
  { header: 'SHUFFLES', cell: (a) => String(a.shuffles), right: true },
  { header: 'DISK', cell: (a) => formatBytes(a.diskBytes), right: true },
  { header: 'IDLE', cell: (a) => formatDuration(a.idleMs), right: true },
  { header: 'SERVERS', cell: (a) => a.servers.join(',') },
];

export const apps: Command = {
  name: 'apps',
  summary: 'applications of every server, one row each (counts summed, servers listed)',
  synopsis: '',
  options: [],
  async run(ctx: Context): Promise<number> {
    const results = await fanOut(ctx.servers, (s) => ctx.client(s).get<Received<AppsResponse>>('/api/v1/apps'));
    const failed = reportFailures(ctx, results);
    const merged = mergeApps(results);
    const ok = failed.length === 0;
    if (ctx.json) {
      ctx.printJson(jsonDocument(ok, { apps: merged, servers: serversJson(results, (v) => ({ apps: v.apps ?? [] })) }, failed[0]?.error));
    } else if (merged.length > 0) {
      ctx.stdout.write(renderTable(columns, merged));
    } else if (ok) {
      ctx.stdout.write('no applications\n');
    }
    return exitOf(ok);
  },
};
