// `shufflectl put LOCAL PATH [--overwrite]`: copies a local file into the
// file namespace. The object is visible only once whole (close-to-open); a
// failed or interrupted copy leaves nothing. A progress bar on a terminal.
import { createReadStream, promises as fsp } from 'node:fs';
import { ObjectWriter } from '../../object-writer.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { ObjectSession } from '../object-session.js';
import { Progress } from '../progress.js';
import { formatBytes, formatRate } from '../units.js';
import { pathJson } from './ls.js';

export const put: Command = {
  name: 'put',
  summary: 'copy a local file into the file namespace (visible once whole)',
  synopsis: 'LOCAL PATH [--overwrite]',
  positional: ['LOCAL', 'PATH'],
  options: ['overwrite'],
  async run(ctx: Context): Promise<number> {
    const [local, path] = ctx.args.extra as [string, string];
    const size = (await fsp.stat(local)).size;
    const progress = new Progress(ctx.stderr);
    const started = Date.now();
    const info = await ObjectSession.with(ctx, async (s) => {
      const w = await ObjectWriter.create(await s.owner(path), path, { overwrite: ctx.flag('overwrite') });
      try {
        for await (const chunk of createReadStream(local, { highWaterMark: 1024 * 1024 })) {
          await w.write(chunk as Buffer);
          progress.update(w.length, size, formatBytes(w.length));
        }
        return await w.close();
      } catch (err) {
        await w.abort().catch(() => undefined);
        throw err;
      } finally {
        progress.finish();
      }
    });
    const seconds = (Date.now() - started) / 1000;
    if (ctx.json) ctx.printJson(jsonDocument(true, { local, path, ...pathJson(info), seconds }));
    else ctx.stdout.write(`${path}: ${formatBytes(info.length)} in ${seconds.toFixed(1)} s (${formatRate(info.length / Math.max(seconds, 0.001))})\n`);
    return exitOf(true);
  },
};
