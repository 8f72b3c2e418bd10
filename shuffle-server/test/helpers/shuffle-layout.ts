// The shuffle tenant's on-disk names and catalog keys in the signatures the
// store tests were written against (appId, shuffleId), over the engine's
// tenant-neutral functions. Test-only: the server builds LogIds itself.
import { Catalog } from '../../src/engine/catalog/catalog.js';
import * as keys from '../../src/engine/catalog/catalog-keys.js';
import type { RunEntry, SegmentEntry } from '../../src/engine/catalog/types.js';
import { listLogDirsOf, listOwnerDirs, removeOwnerDir } from '../../src/engine/log-dirs.js';
import { SegmentLog } from '../../src/engine/segment-log.js';
import * as names from '../../src/engine/segment-names.js';
import type { TierSet } from '../../src/engine/tiers.js';
import { ShuffleCatalog } from '../../src/shuffle/shuffle-catalog.js';
import { SHUFFLE_TENANT, shuffleGone, shuffleLog, type CommitEntry, type ShuffleEntry } from '../../src/shuffle/shuffle-rows.js';

export { shuffleLog };
export type { CommitEntry, RunEntry, SegmentEntry, ShuffleEntry };
export type ShuffleIndex = ShuffleCatalog;
export const parseSegmentFileName = names.parseSegmentFileName;
export const segmentFileName = names.segmentFileName;

const TENANT = SHUFFLE_TENANT.name;

export function segmentPath(dataDir: string, appId: string, shuffleId: number, segmentId: number): string {
  return names.segmentPath(dataDir, shuffleLog(appId, shuffleId), segmentId);
}

export function shuffleDir(dataDir: string, appId: string, shuffleId: number): string {
  return names.logDir(dataDir, shuffleLog(appId, shuffleId));
}

export const parseShuffleDirName = names.parseLogDirName;

export async function listAppDirs(dataDir: string): Promise<Array<{ appId: string; dir: string }>> {
  return (await listOwnerDirs(dataDir, TENANT)).map((o) => ({ appId: o.owner, dir: o.dir }));
}

export async function listShuffleDirs(dataDir: string): Promise<Array<{ appId: string; shuffleId: number; dir: string }>> {
  const out: Array<{ appId: string; shuffleId: number; dir: string }> = [];
  for (const owner of await listOwnerDirs(dataDir, TENANT)) {
    for (const { log, dir } of await listLogDirsOf(owner)) out.push({ appId: log.owner, shuffleId: log.id, dir });
  }
  return out;
}

export function removeAppDir(dataDir: string, appId: string): Promise<void> {
  return removeOwnerDir(dataDir, TENANT, appId);
}

export interface ShuffleLogOptions {
  dataDir: string;
  appId: string;
  shuffleId: number;
  segmentBytesMax: number;
  tiers?: TierSet;
}

export function openShuffleLog(opts: ShuffleLogOptions, known: SegmentEntry[]): Promise<SegmentLog> {
  return SegmentLog.open({
    dataDir: opts.dataDir, log: shuffleLog(opts.appId, opts.shuffleId), segmentBytesMax: opts.segmentBytesMax, tiers: opts.tiers,
    // As the shuffle tenant opens its logs (shuffle-service.ts).
    removedError: () => shuffleGone(opts.appId, opts.shuffleId),
  }, known);
}

export async function openShuffleIndex(dir: string): Promise<ShuffleCatalog> {
  return new ShuffleCatalog(await Catalog.open(dir));
}

export const metaFormatKey = keys.metaFormatKey;
export const prefixEnd = keys.prefixEnd;

export function runKey(appId: string, shuffleId: number, run: Pick<RunEntry, 'partition' | 'segmentId' | 'offset'>): Buffer {
  return keys.runKey(SHUFFLE_TENANT.tags.run, shuffleLog(appId, shuffleId), run);
}

export function decodeRunKey(key: Buffer): { appId: string; shuffleId: number; partition: number; segmentId: number; offset: number } {
  const k = keys.decodeRunKey(TENANT, SHUFFLE_TENANT.tags.run, key);
  return { appId: k.log.owner, shuffleId: k.log.id, partition: k.partition, segmentId: k.segmentId, offset: k.offset };
}
