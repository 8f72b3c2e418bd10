// The shuffle and application directories under the data directory (or a tier),
// for the orphan sweep (orphans.ts) and for removing an application's files.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ioError, isNotFound } from '../errors.js';
import { appDir, isAppDirName, parseShuffleDirName, shufflesRoot } from './segment-names.js';

/** Every shuffle directory under the data directory (or a tier's directory). */
export async function listShuffleDirs(dataDir: string): Promise<Array<{ appId: string; shuffleId: number; dir: string }>> {
  const out: Array<{ appId: string; shuffleId: number; dir: string }> = [];
  for (const app of await listAppDirs(dataDir)) out.push(...(await listShuffleDirsOf(app)));
  return out;
}

/** The shuffle directories of one application directory (none when it vanished meanwhile). */
export async function listShuffleDirsOf(app: { appId: string; dir: string }): Promise<Array<{ appId: string; shuffleId: number; dir: string }>> {
  let names;
  try {
    names = await fsp.readdir(app.dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw ioError(err, `list application directory ${app.dir}`);
  }
  const out: Array<{ appId: string; shuffleId: number; dir: string }> = [];
  for (const d of names) {
    const shuffleId = d.isDirectory() ? parseShuffleDirName(d.name) : null;
    if (shuffleId !== null) out.push({ appId: app.appId, shuffleId, dir: join(app.dir, d.name) });
  }
  return out;
}

/** Every application directory under the data directory (an app may have none left of its shuffles). */
export async function listAppDirs(dataDir: string): Promise<Array<{ appId: string; dir: string }>> {
  const root = shufflesRoot(dataDir);
  let names;
  try {
    names = await fsp.readdir(root, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw ioError(err, `list ${root}`);
  }
  return names
    .filter((d) => d.isDirectory() && isAppDirName(d.name))
    .map((d) => ({ appId: d.name, dir: join(root, d.name) }));
}

/** Removes an application's directory with every shuffle in it (after its SegmentLogs are closed). */
export async function removeAppDir(dataDir: string, appId: string): Promise<void> {
  const dir = appDir(dataDir, appId);
  try {
    await fsp.rm(dir, { recursive: true, force: true });
  } catch (err) {
    throw ioError(err, `remove application directory ${dir}`);
  }
}
