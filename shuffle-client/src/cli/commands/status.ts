// `shufflectl status`: GET /api/v1/status of every server, as one row per
// server plus one row per storage tier.
import type { Received, ServerStatus } from '../../../../schemas/ts/admin-api.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument, reportFailures } from '../command.js';
import type { Context } from '../context.js';
import { fanOut, serversJson } from '../fan-out.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes, formatCount, formatDuration } from '../units.js';

/** GET /api/v1/status (ADMIN_API.md), read field by field; fields shufflectl does not show are kept in --json. */
type Status = Received<ServerStatus>;

type Row = { server: string; s: Status };
type TierRow = { server: string; t: NonNullable<Status['tiers']>[number] };

const columns: Array<Column<Row>> = [
  { header: 'SERVER', cell: (r) => r.server },
  { header: 'VERSION', cell: (r) => r.s.version ?? '-' },
  { header: 'UPTIME', cell: (r) => formatDuration(r.s.uptimeMs), right: true },
  { header: 'MEMORY USED/BUDGET', cell: (r) => `${formatBytes(r.s.memory?.usedBytes)} / ${formatBytes(r.s.memory?.budgetBytes)}`, right: true },
  { header: 'DISK', cell: (r) => formatBytes(r.s.diskUsedBytes), right: true },
  { header: 'APPS', cell: (r) => formatCount(r.s.apps), right: true },
  { header: 'SHUFFLES', cell: (r) => formatCount(r.s.shuffles), right: true },
  { header: 'CONNS', cell: (r) => formatCount(r.s.connections), right: true },
  { header: 'NATIVE', cell: (r) => (r.s.native?.loaded === true ? 'yes' : 'no') },
  { header: 'UCX', cell: (r) => (r.s.ucx?.enabled === true ? `yes :${r.s.ucx.port ?? '?'}` : 'no') },
  { header: 'DECOMMISSION', cell: (r) => r.s.decommission?.state ?? '-' },
];

const tierColumns: Array<Column<TierRow>> = [
  { header: 'SERVER', cell: (r) => r.server },
  { header: 'TIER', cell: (r) => r.t.tier ?? '-' },
  { header: 'KIND', cell: (r) => `${r.t.kind ?? '-'}${r.t.pmemWrites === true ? ' (pmem2)' : ''}` },
  { header: 'USED', cell: (r) => formatBytes(r.t.usedBytes), right: true },
  { header: 'CAPACITY', cell: (r) => formatBytes(r.t.capacityBytes), right: true },
  { header: 'FREE', cell: (r) => formatBytes(r.t.freeBytes), right: true },
  { header: 'PATH', cell: (r) => r.t.path ?? '-' },
];

/** Why native or UCX is off, one line per server, so a table cell need not hold it. */
function notes(rows: Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (r.s.native?.loaded !== true && r.s.native?.reason) out.push(`${r.server}: native module not loaded: ${r.s.native.reason}`);
    if (r.s.ucx?.enabled !== true && r.s.ucx?.reason) out.push(`${r.server}: UCX off: ${r.s.ucx.reason}`);
  }
  return out;
}

export const status: Command = {
  name: 'status',
  summary: 'version, uptime, memory, disk per tier, apps, shuffles, native/UCX, decommission state of each server',
  synopsis: '',
  options: [],
  async run(ctx: Context): Promise<number> {
    const results = await fanOut(ctx.servers, (s) => ctx.client(s).get<Status>('/api/v1/status'));
    const failed = reportFailures(ctx, results);
    const ok = failed.length === 0;
    if (ctx.json) {
      ctx.printJson(jsonDocument(ok, { servers: serversJson(results, (v) => ({ status: v })) }, failed[0]?.error));
      return exitOf(ok);
    }
    const rows: Row[] = [];
    for (const r of results) if (r.ok) rows.push({ server: r.server, s: r.value });
    if (rows.length > 0) {
      ctx.stdout.write(renderTable(columns, rows));
      const tiers = rows.flatMap((r) => (r.s.tiers ?? []).map((t) => ({ server: r.server, t })));
      if (tiers.length > 0) ctx.stdout.write(`\n${renderTable(tierColumns, tiers)}`);
      const n = notes(rows);
      if (n.length > 0) ctx.stdout.write(`\n${n.join('\n')}\n`);
    }
    return exitOf(ok);
  },
};
