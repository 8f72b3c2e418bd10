// Object log directories on disk under a data directory (`objects/<owner>/<log id>/`): one
// per file with bytes in a segment log, or being written. Files small enough to be stored
// inline in the index have none.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function objectLogDirs(dataDir: string): Promise<number> {
  let owners: string[];
  try {
    owners = await readdir(join(dataDir, 'objects'));
  } catch {
    return 0;
  }
  let n = 0;
  for (const o of owners) n += (await readdir(join(dataDir, 'objects', o))).length;
  return n;
}
