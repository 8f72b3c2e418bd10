// `shufflectl du PATH`: bytes, files and directories under a path of the file
// namespace (walked entry by entry: a large tree takes a while).
import { PathKind } from '../../../../schemas/ts/messages.js';
import type { Connection } from '../../connection.js';
import { listDir, statPath } from '../../namespace.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { ObjectSession } from '../object-session.js';
import { formatBytes } from '../units.js';

interface Usage { bytes: number; files: number; directories: number }

async function walk(c: Connection, path: string, u: Usage): Promise<void> {
  for await (const e of listDir(c, path)) {
    const child = path === '/' ? `/${e.name}` : `${path}/${e.name}`;
    if (e.kind === PathKind.DIRECTORY) {
      u.directories++;
      await walk(c, child, u);
    } else {
      u.files++;
      u.bytes += e.length;
    }
  }
}

export const du: Command = {
  name: 'du',
  summary: 'bytes, files and directories under a path of the file namespace',
  synopsis: 'PATH',
  positional: ['PATH'],
  options: [],
  async run(ctx: Context): Promise<number> {
    const path = ctx.args.extra[0]!;
    const u: Usage = { bytes: 0, files: 0, directories: 0 };
    await ObjectSession.with(ctx, async (s) => {
      for (const server of s.serversOf(path)) {
        const c = await s.conn(server);
        const info = await statPath(c, path);
        if (info.kind === PathKind.FILE) {
          u.files++;
          u.bytes += info.length;
        } else {
          await walk(c, path, u);
        }
      }
    });
    if (ctx.json) ctx.printJson(jsonDocument(true, { path, ...u }));
    else ctx.stdout.write(`${formatBytes(u.bytes)} (${u.bytes} bytes) in ${u.files} files and ${u.directories} directories under ${path}\n`);
    return exitOf(true);
  },
};
