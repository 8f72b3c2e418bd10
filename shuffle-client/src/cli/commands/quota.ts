// `shufflectl quota [DIR --bytes SIZE --objects N]`: the quotas of the file
// namespace's top-level directories with what each uses, or sets one (on the
// server owning DIR: path-owner.ts). Both limits 0 removes a quota.
import type { QuotaInfo, QuotasResponse } from '../../../../schemas/ts/admin-api.js';
import { ownerIndex } from '../../path-owner.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import { UsageError } from '../failure.js';
import { fanOut, serversJson } from '../fan-out.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes, formatCount } from '../units.js';

interface Row extends QuotaInfo { server: string }

const limit = (n: number, f: (n: number) => string): string => (n === 0 ? '-' : f(n));
const columns: Array<Column<Row>> = [
  { header: 'DIR', cell: (q) => `/${q.dir}` },
  { header: 'BYTES', cell: (q) => formatBytes(q.bytesUsed + q.writingBytes), right: true },
  { header: 'BYTES MAX', cell: (q) => limit(q.bytesMax, formatBytes), right: true },
  { header: 'OBJECTS', cell: (q) => formatCount(q.objectsUsed), right: true },
  { header: 'OBJECTS MAX', cell: (q) => limit(q.objectsMax, formatCount), right: true },
  { header: 'SERVER', cell: (q) => q.server },
];

export const quota: Command = {
  name: 'quota',
  summary: 'quotas of the file namespace\'s top-level directories and their usage, or set one',
  synopsis: '[DIR --bytes SIZE --objects N]',
  positional: ['DIR'],
  optional: 1,
  options: ['bytes', 'objects'],
  details: 'With DIR (a top-level directory, with or without its leading slash) the quota is set on the server owning it;\n--bytes and --objects absent or 0 mean no limit, and both 0 removes the quota.',
  check(ctx: Context): void {
    const setting = ctx.args.extra.length > 0;
    if (!setting && (ctx.number('bytes') !== undefined || ctx.number('objects') !== undefined)) throw new UsageError('--bytes and --objects need DIR');
    if (setting && ctx.number('bytes') === undefined && ctx.number('objects') === undefined) throw new UsageError('quota DIR needs --bytes, --objects or both');
  },
  async run(ctx: Context): Promise<number> {
    const dirArg = ctx.args.extra[0];
    let servers = ctx.servers;
    if (dirArg !== undefined) {
      const dir = dirArg.replace(/^\//, '');
      const owner = ctx.servers[ownerIndex(`/${dir}`, ctx.servers.length) ?? 0]!;
      servers = [owner];
      await ctx.client(owner).post<QuotasResponse>('/api/v1/quotas', { dir, bytesMax: ctx.number('bytes') ?? 0, objectsMax: ctx.number('objects') ?? 0 });
    }
    const results = await fanOut(servers, (s) => ctx.client(s).get<QuotasResponse>('/api/v1/quotas'));
    const failed = reportFailures(ctx, results);
    const rows: Row[] = [];
    for (const r of results) if (r.ok) for (const q of r.value.quotas) rows.push({ ...q, server: r.server });
    const ok = failed.length === 0;
    if (ctx.json) ctx.printJson(jsonDocument(ok, { quotas: rows, servers: serversJson(results, (v) => ({ quotas: v.quotas })) }, failed[0]?.error));
    else if (rows.length > 0) ctx.stdout.write(renderTable(columns, rows));
    else if (ok) ctx.stdout.write('no quotas\n');
    return exitOf(ok);
  },
};
