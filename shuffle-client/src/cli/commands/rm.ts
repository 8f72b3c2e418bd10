// `shufflectl rm PATH [--recursive]`: deletes a file, or a directory (with
// --recursive, everything under it). Its space is back when the command ends.
import { ErrorCode, PegasusError } from '../../../../schemas/ts/errors.js';
import { deletePath } from '../../namespace.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { ObjectSession } from '../object-session.js';

export const rm: Command = {
  name: 'rm',
  summary: 'delete a file, or a directory with --recursive, of the file namespace',
  synopsis: 'PATH [--recursive]',
  positional: ['PATH'],
  options: ['recursive'],
  async run(ctx: Context): Promise<number> {
    const path = ctx.args.extra[0]!;
    const deleted = await ObjectSession.with(ctx, async (s) => deletePath(await s.owner(path), path, { recursive: ctx.flag('recursive') }));
    if (!deleted) {
      const err = new PegasusError(ErrorCode.NOT_FOUND, `${path}: no such file or directory`);
      if (ctx.json) ctx.printJson(jsonDocument(false, { path, deleted }, { code: err.code, message: err.message }));
      else ctx.printError({ code: err.code, message: err.message });
      return exitOf(false);
    }
    if (ctx.json) ctx.printJson(jsonDocument(true, { path, deleted }));
    else ctx.stdout.write(`deleted ${path}\n`);
    return exitOf(true);
  },
};
