// `shufflectl ls PATH`: the entries of a directory of the objects namespace
// (or one file's line), in name order. The root lists every server's
// top-level entries together.
import { PathKind, type PathInfo } from '../../../../schemas/ts/messages.js';
import { listDir, statPath } from '../../namespace.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { ObjectSession } from '../object-session.js';
import { renderTable, type Column } from '../table.js';
import { formatBytes } from '../units.js';

export const pathColumns: Array<Column<PathInfo>> = [
  { header: 'KIND', cell: (e) => (e.kind === PathKind.DIRECTORY ? 'dir' : 'file') },
  { header: 'SIZE', cell: (e) => (e.kind === PathKind.DIRECTORY ? '-' : formatBytes(e.length)), right: true },
  { header: 'MODIFIED', cell: (e) => (e.mtimeMs === 0 ? '-' : new Date(e.mtimeMs).toISOString()) },
  { header: 'NAME', cell: (e) => e.name },
];

/** What --json prints of a path. */
export function pathJson(e: PathInfo): Record<string, unknown> {
  return { name: e.name, kind: e.kind === PathKind.DIRECTORY ? 'directory' : 'file', length: e.length, mtimeMs: e.mtimeMs, id: e.id, tier: e.tier };
}

export const ls: Command = {
  name: 'ls',
  summary: 'entries of a directory of the file namespace (pegasus:// paths), or one file',
  synopsis: 'PATH',
  positional: ['PATH'],
  options: [],
  async run(ctx: Context): Promise<number> {
    const path = ctx.args.extra[0]!;
    const entries = await ObjectSession.with(ctx, async (s) => {
      const servers = s.serversOf(path);
      const first = await statPath(await s.conn(servers[0]!), path);
      if (first.kind === PathKind.FILE) return [{ ...first, name: path }];
      const out: PathInfo[] = [];
      for (const server of servers) for await (const e of listDir(await s.conn(server), path)) out.push(e);
      return out.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    });
    if (ctx.json) ctx.printJson(jsonDocument(true, { path, entries: entries.map(pathJson) }));
    else if (entries.length > 0) ctx.stdout.write(renderTable(pathColumns, entries));
    return exitOf(true);
  },
};
