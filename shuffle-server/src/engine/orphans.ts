// Orphans: files and directories under a tier's tenant folders that no catalog
// row names. One sweep serves both the start of the server (recovery removes
// them) and the admin cleanup (which may only list them: dry run).
//
// What counts, per tier and tenant, walking <tenant dir>/<owner>/<log id>/<segment>.seg:
//   - an owner directory of an owner the engine's tenants do not hold;
//   - a log directory of a log no tenant holds (nor keeps quarantined for
//     inspection: see Engine.openLogs);
//   - a segment file of a held log that the log does not know (never indexed:
//     a flush that failed and could not unlink its file).
// Names that are not ours (not an owner id, not a log id, not a segment file)
// are left alone, as recovery always did: an operator may keep notes there.
//
// Thread contract: the judge is asked twice, when listing and again
// synchronously right before each removal, so a log created between the two is
// not removed.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { ioError, isNotFound } from '../errors.js';
import { listLogDirsOf, listOwnerDirs } from './log-dirs.js';
import type { LogId } from './log-id.js';
import { segmentReadHandles } from './read-handles.js';
import { parseSegmentFileName } from './segment-names.js';
import { TENANTS, type TenantName } from './tenants.js';
import type { TierSet } from './tiers.js';

export type OrphanKind = 'owner' | 'log' | 'segment';

export interface Orphan {
  kind: OrphanKind;
  path: string;
  /** Bytes of the files in it (what removing it frees). */
  bytes: number;
  tenant: TenantName;
  owner: string;
  logId: number | null;
  segmentId: number | null;
}

/** Decides what one tenant still holds. Every method is synchronous. */
export interface OrphanJudge {
  /** The tenant whose folders the sweep walks; other tenants' folders are not its business. */
  readonly tenant: TenantName;
  ownerHeld(tenant: TenantName, owner: string): boolean;
  logHeld(log: LogId): boolean;
  /** Whether a segment file of a held log is unindexed (and may be removed). */
  segmentOrphaned(log: LogId, segmentId: number): boolean;
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

/** Lists the orphans of the judge's tenant on every tier, at most `max` of them. */
export async function findOrphans(tiers: TierSet, judge: OrphanJudge, max: number): Promise<Orphan[]> {
  const out: Orphan[] = [];
  const add = async (o: Omit<Orphan, 'bytes'>): Promise<void> => {
    out.push({ ...o, bytes: await pathBytes(o.path) });
  };
  for (const tier of tiers.tiers) {
    for (const tenant of [TENANTS[judge.tenant]]) {
      for (const owner of await listOwnerDirs(tier.path, tenant.name)) {
        if (out.length >= max) return out;
        if (!judge.ownerHeld(owner.tenant, owner.owner)) {
          await add({ kind: 'owner', path: owner.dir, tenant: owner.tenant, owner: owner.owner, logId: null, segmentId: null });
          continue;
        }
        for (const { log, dir } of await listLogDirsOf(owner)) {
          if (out.length >= max) return out;
          if (!judge.logHeld(log)) {
            await add({ kind: 'log', path: dir, tenant: log.tenant, owner: log.owner, logId: log.id, segmentId: null });
            continue;
          }
          let names: string[];
          try {
            names = await fsp.readdir(dir);
          } catch (err) {
            if (isNotFound(err)) continue;
            throw ioError(err, `list log directory ${dir}`);
          }
          for (const name of names) {
            const segmentId = parseSegmentFileName(name);
            if (segmentId === null || out.length >= max) continue;
            if (judge.segmentOrphaned(log, segmentId)) {
              await add({ kind: 'segment', path: join(dir, name), tenant: log.tenant, owner: log.owner, logId: log.id, segmentId });
            }
          }
        }
      }
    }
  }
  return out;
}

/** Whether the judge still calls `o` an orphan (asked synchronously right before removal). */
function stillOrphaned(o: Orphan, judge: OrphanJudge): boolean {
  if (o.kind === 'owner') return !judge.ownerHeld(o.tenant, o.owner);
  const log: LogId = { tenant: o.tenant, owner: o.owner, id: o.logId! };
  if (o.kind === 'log') return !judge.logHeld(log);
  return judge.ownerHeld(o.tenant, o.owner) && judge.logHeld(log) && judge.segmentOrphaned(log, o.segmentId!);
}
/**
 * Removes the orphans that are still orphans; returns those removed. A path
 * that vanished meanwhile counts as removed (its bytes are free either way).
 */
export async function removeOrphans(orphans: readonly Orphan[], judge: OrphanJudge): Promise<Orphan[]> {
  const removed: Orphan[] = [];
  for (const o of orphans) {
    if (!stillOrphaned(o, judge)) continue;
    segmentReadHandles.forget(o.path);
    segmentReadHandles.forgetUnder(o.path);
    try {
      await fsp.rm(o.path, { recursive: true, force: true });
    } catch (err) {
      throw ioError(err, `remove orphan ${o.path}`);
    }
    removed.push(o);
  }
  return removed;
}
