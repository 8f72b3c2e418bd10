// `shufflectl stat PATH`: what a path of the file namespace is: kind, size,
// modification time, id, and the storage tier a file lives on.
import { PathKind } from '../../../../schemas/ts/messages.js';
import { statPath } from '../../namespace.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { ObjectSession } from '../object-session.js';
import { formatBytes } from '../units.js';
import { pathJson } from './ls.js';

export const stat: Command = {
  name: 'stat',
  summary: 'kind, size, modification time and storage tier of a path of the file namespace',
  synopsis: 'PATH',
  positional: ['PATH'],
  options: [],
  async run(ctx: Context): Promise<number> {
    const path = ctx.args.extra[0]!;
    const info = await ObjectSession.with(ctx, async (s) => statPath(await s.owner(path), path));
    if (ctx.json) {
      ctx.printJson(jsonDocument(true, { path, ...pathJson(info) }));
    } else {
      const file = info.kind === PathKind.FILE;
      ctx.stdout.write([
        `path      ${path}`,
        `kind      ${file ? 'file' : 'directory'}`,
        ...(file ? [`size      ${formatBytes(info.length)} (${info.length} bytes)`, `tier      ${info.tier === '' ? '-' : info.tier}`] : []),
        `modified  ${info.mtimeMs === 0 ? '-' : new Date(info.mtimeMs).toISOString()}`,
        `id        ${info.id}`,
        '',
      ].join('\n'));
    }
    return exitOf(true);
  },
};
