// Orphans: files and directories under a tier's shuffles/ folder that no index
// row names. One sweep serves both the start of the server (recovery removes
// them) and the admin cleanup (which may only list them: dry run).
//
// What counts, per tier, walking shuffles/<appId>/<shuffleId>/<segment>.seg:
//   - an application directory of an application the server does not hold;
//   - a shuffle directory of a shuffle the server does not hold (nor keeps
//     quarantined for inspection: see ShuffleService.recover);
//   - a segment file of a held shuffle that its log does not know (never
//     indexed: a flush that failed and could not unlink its file).
// Names that are not ours (not an app id, not a shuffle id, not a segment
// file) are left alone, as recovery always did: an operator may keep notes there.
//
// Thread contract: the judge is asked twice, when listing and again
// synchronously right before each removal, so a shuffle registered between the
// two is not removed.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { ioError, isNotFound } from '../errors.js';
import { parseSegmentFileName } from './segment-names.js';
import { listAppDirs, listShuffleDirsOf } from './shuffle-dirs.js';
import type { TierSet } from './tiers.js';

export type OrphanKind = 'app' | 'shuffle' | 'segment';

export interface Orphan {
  kind: OrphanKind;
  path: string;
  /** Bytes of the files in it (what removing it frees). */
  bytes: number;
  appId: string;
  shuffleId: number | null;
  segmentId: number | null;
}

/** Decides what the server still holds. Every method is synchronous. */
export interface OrphanJudge {
  appHeld(appId: string): boolean;
  shuffleHeld(appId: string, shuffleId: number): boolean;
  /** Whether a segment file of a held shuffle is unindexed (and may be removed). */
  segmentOrphaned(appId: string, shuffleId: number, segmentId: number): boolean;
}

/** Bytes of the files under `path` (itself if a file); symbolic links count as themselves. */
export async function pathBytes(path: string): Promise<number> {
  let st;
  try {
    st = await fsp.lstat(path);
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw ioError(err, `stat ${path}`);
  }
  if (!st.isDirectory()) return st.size;
  let names: string[];
  try {
    names = await fsp.readdir(path);
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw ioError(err, `list ${path}`);
  }
  let n = 0;
  for (const name of names) n += await pathBytes(join(path, name));
  return n;
}

/** Lists the orphans on every tier, at most `max` of them. */
export async function findOrphans(tiers: TierSet, judge: OrphanJudge, max: number): Promise<Orphan[]> {
  const out: Orphan[] = [];
  const add = async (o: Omit<Orphan, 'bytes'>): Promise<void> => {
    out.push({ ...o, bytes: await pathBytes(o.path) });
  };
  for (const tier of tiers.tiers) {
    for (const app of await listAppDirs(tier.path)) {
      if (out.length >= max) return out;
      if (!judge.appHeld(app.appId)) {
        await add({ kind: 'app', path: app.dir, appId: app.appId, shuffleId: null, segmentId: null });
        continue;
      }
      for (const dir of await listShuffleDirsOf(app)) {
        if (out.length >= max) return out;
        if (!judge.shuffleHeld(dir.appId, dir.shuffleId)) {
          await add({ kind: 'shuffle', path: dir.dir, appId: dir.appId, shuffleId: dir.shuffleId, segmentId: null });
          continue;
        }
        let names: string[];
        try {
          names = await fsp.readdir(dir.dir);
        } catch (err) {
          if (isNotFound(err)) continue;
          throw ioError(err, `list shuffle directory ${dir.dir}`);
        }
        for (const name of names) {
          const segmentId = parseSegmentFileName(name);
          if (segmentId === null || out.length >= max) continue;
          if (judge.segmentOrphaned(dir.appId, dir.shuffleId, segmentId)) {
            await add({ kind: 'segment', path: join(dir.dir, name), appId: dir.appId, shuffleId: dir.shuffleId, segmentId });
          }
        }
      }
    }
  }
  return out;
}

/** Whether the judge still calls `o` an orphan (asked synchronously right before removal). */
function stillOrphaned(o: Orphan, judge: OrphanJudge): boolean {
  if (o.kind === 'app') return !judge.appHeld(o.appId);
  if (o.kind === 'shuffle') return !judge.shuffleHeld(o.appId, o.shuffleId!);
  return judge.appHeld(o.appId) && judge.shuffleHeld(o.appId, o.shuffleId!) && judge.segmentOrphaned(o.appId, o.shuffleId!, o.segmentId!);
}

/**
 * Removes the orphans that are still orphans; returns those removed. A path
 * that vanished meanwhile counts as removed (its bytes are free either way).
 */
export async function removeOrphans(orphans: readonly Orphan[], judge: OrphanJudge): Promise<Orphan[]> {
  const removed: Orphan[] = [];
  for (const o of orphans) {
    if (!stillOrphaned(o, judge)) continue;
    try {
      await fsp.rm(o.path, { recursive: true, force: true });
    } catch (err) {
      throw ioError(err, `remove orphan ${o.path}`);
    }
    removed.push(o);
  }
  return removed;
}
