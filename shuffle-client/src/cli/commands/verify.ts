// `shufflectl verify [--app APP] [--shuffle N]`: lists the shuffles of every
// server, then asks each server to verify its shuffles one at a time (POST
// /api/v1/verify with {app, shuffle}), so a progress bar can follow on a
// terminal; servers run in parallel. Prints runs, blocks and bytes checked
// and every error; exit 1 if any was found.
import type { Received, VerifyBody, VerifyResult } from '../../../../schemas/ts/admin-api.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { toFailure, UsageError, type Failure } from '../failure.js';
import type { ServerResult } from '../fan-out.js';
import { VERIFY_TIMEOUT_MS_DEFAULT } from '../limits.js';
import type { ShuffleRow } from '../merge.js';
import { Progress } from '../progress.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes } from '../units.js';
import { listShuffles } from './shuffles.js';

interface Checked {
  server: string;
  appId: string;
  shuffleId: number;
  runs: number;
  blocks: number;
  bytes: number;
  errors: Array<{ code: string; message: string }>;
}

const columns: Array<Column<Checked>> = [
  { header: 'SERVER', cell: (c) => c.server },
  { header: 'APP', cell: (c) => c.appId },
  { header: 'SHUFFLE', cell: (c) => String(c.shuffleId), right: true },
  { header: 'RUNS', cell: (c) => String(c.runs), right: true },
  { header: 'BLOCKS', cell: (c) => String(c.blocks), right: true },
  { header: 'BYTES', cell: (c) => formatBytes(c.bytes), right: true },
  { header: 'ERRORS', cell: (c) => String(c.errors.length), right: true },
];

export const verify: Command = {
  name: 'verify',
  summary: 're-read stored shuffles and check every header and block CRC32C; exit 1 on any error',
  synopsis: '[--app APP [--shuffle N]]',
  options: ['app', 'shuffle'],
  details: 'Each request is bounded by --timeout (default 600 s: a server re-reads a whole shuffle).',
  check(ctx: Context): void {
    if (ctx.number('shuffle') !== undefined && ctx.string('app') === undefined) throw new UsageError('verify --shuffle needs --app');
  },
  async run(ctx: Context): Promise<number> {
    const app = ctx.string('app');
    const only = ctx.number('shuffle');
    const { results: all, notFound: appNotFound } = await listShuffles(ctx, app);
    const listed = all.map((r) => (r.ok ? { ...r, value: r.value.filter((x) => only === undefined || x.shuffleId === only) } : r));
    const serverErrors: Array<{ server: string; error: Failure }> = [];
    for (const r of listed) if (!r.ok) serverErrors.push({ server: r.server, error: r.error });
    const total = listed.reduce((n, r) => n + (r.ok ? r.value.length : 0), 0);
    const progress = new Progress(ctx.stderr);
    let done = 0;
    let bytes = 0;
    const checked: Checked[] = [];
    const timeoutMs = ctx.timeoutMs(VERIFY_TIMEOUT_MS_DEFAULT);
    progress.update(0, total, 'shuffles verified', true);
    await Promise.all(listed.map(async (r: ServerResult<ShuffleRow[]>) => {
      if (!r.ok) return;
      const client = ctx.client(r.server, timeoutMs);
      for (const s of r.value) {
        try {
          const body: VerifyBody = { app: s.appId, shuffle: s.shuffleId };
          const a = await client.post<Received<VerifyResult>>('/api/v1/verify', body);
          const errors = (a.errors ?? []).map((e) => ({ code: e.code ?? 'INTERNAL', message: e.message ?? '' }));
          checked.push({ server: r.server, appId: s.appId, shuffleId: s.shuffleId, runs: a.runs ?? 0, blocks: a.blocks ?? 0, bytes: a.bytes ?? 0, errors });
          bytes += a.bytes ?? 0;
        } catch (err) {
          serverErrors.push({ server: r.server, error: toFailure(err) });
        }
        done++;
        progress.update(done, total, `shuffles verified, ${formatBytes(bytes)} read`);
      }
    }));
    progress.finish();
    checked.sort((x, y) => (x.server < y.server ? -1 : x.server > y.server ? 1 : x.appId < y.appId ? -1 : x.appId > y.appId ? 1 : x.shuffleId - y.shuffleId));
    let notFound: Failure | undefined = appNotFound;
    if (notFound === undefined && only !== undefined && total === 0 && serverErrors.length === 0) {
      notFound = { code: 'UNKNOWN_SHUFFLE', message: `shuffle ${app!}/${only} is on none of ${ctx.servers.join(',')}` };
    }
    const found = checked.flatMap((c) => c.errors.map((e) => ({ server: c.server, appId: c.appId, shuffleId: c.shuffleId, ...e })));
    const totals = {
      shuffles: checked.length, runs: checked.reduce((n, c) => n + c.runs, 0), blocks: checked.reduce((n, c) => n + c.blocks, 0), bytes, errors: found.length,
    };
    const firstFound = found[0];
    const error = serverErrors[0]?.error ?? notFound ?? (firstFound === undefined ? undefined : { code: firstFound.code, message: `${found.length} errors found` });
    const ok = error === undefined;
    if (ctx.json) {
      const servers = ctx.servers.map((s) => {
        const e = serverErrors.find((x) => x.server === s);
        return e === undefined ? { server: s } : { server: s, error: e.error };
      });
      ctx.printJson(jsonDocument(ok, { totals, shuffles: checked, errors: found, servers }, error));
      return exitOf(ok);
    }
    for (const e of serverErrors) ctx.printError(e.error);
    if (notFound !== undefined) ctx.printError(notFound);
    if (checked.length > 0) ctx.stdout.write(renderTable(columns, checked));
    ctx.stdout.write(`verified ${totals.shuffles} shuffles: ${totals.runs} runs, ${totals.blocks} blocks, ${formatBytes(totals.bytes)}; ${found.length} errors\n`);
    for (const e of found) ctx.stdout.write(`${e.server} ${e.appId}/${e.shuffleId}: ${e.code}: ${e.message}\n`);
    return exitOf(ok);
  },
};
