// `shufflectl get PATH LOCAL`: copies a file of the namespace to a local
// file, written beside it under a temporary name and renamed into place once
// whole, so LOCAL is never a partial copy. A progress bar on a terminal.
import { promises as fsp } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { ObjectReader } from '../../object-reader.js';
import type { Command } from '../command.js';
import { exitOf, jsonDocument } from '../command.js';
import type { Context } from '../context.js';
import { ObjectSession } from '../object-session.js';
import { Progress } from '../progress.js';
import { formatBytes, formatRate } from '../units.js';

export const get: Command = {
  name: 'get',
  summary: 'copy a file of the file namespace to a local file',
  synopsis: 'PATH LOCAL',
  positional: ['PATH', 'LOCAL'],
  options: [],
  async run(ctx: Context): Promise<number> {
    const [path, local] = ctx.args.extra as [string, string];
    const progress = new Progress(ctx.stderr);
    const started = Date.now();
    const temp = join(dirname(local), `.${basename(local)}.pegasus-${process.pid}`);
    const length = await ObjectSession.with(ctx, async (s) => {
      const r = await ObjectReader.open(await s.owner(path), path);
      const out = await fsp.open(temp, 'w');
      let done = 0;
      try {
        for await (const chunk of r.stream()) {
          await out.write(chunk);
          done += chunk.length;
          progress.update(done, r.length, formatBytes(done));
        }
        await out.sync();
      } catch (err) {
        await out.close().catch(() => undefined);
        await fsp.rm(temp, { force: true });
        throw err;
      } finally {
        progress.finish();
      }
      await out.close();
      await fsp.rename(temp, local);
      return done;
    });
    const seconds = (Date.now() - started) / 1000;
    if (ctx.json) ctx.printJson(jsonDocument(true, { path, local, length, seconds }));
    else ctx.stdout.write(`${local}: ${formatBytes(length)} in ${seconds.toFixed(1)} s (${formatRate(length / Math.max(seconds, 0.001))})\n`);
    return exitOf(true);
  },
};
