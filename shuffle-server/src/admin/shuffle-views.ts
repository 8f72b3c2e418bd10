// Admin views over the shuffle tenant and the engine: listings, removals,
// cleanup and verify. Read-only except where an operator asked for a removal.
// The response shapes are declared once in schemas/ts/admin-api.ts (ADMIN_API.md),
// where shufflectl reads them too.
import type { AppDetail, AppInfo, CleanupResult, RemovedApp, RemovedShuffle, ShuffleInfo, VerifyResult } from '../../../schemas/ts/admin-api.js';
import { checkAppId } from '../../../schemas/ts/ids.js';
import type { Orphan } from '../engine/orphans.js';
import type { VerifyCounts } from '../engine/log-verifier.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { ORPHANS_PER_CLEANUP_MAX, VERIFY_ERRORS_MAX } from '../limits.js';
import type { Logger } from '../logger.js';
import type { App } from '../shuffle/app-registry.js';
import type { ShuffleService } from '../shuffle/shuffle-service.js';
import type { Shuffle } from '../shuffle/shuffle.js';

export interface CleanupRequest {
  expired: boolean;
  orphans: boolean;
  dryRun: boolean;
}

function appDiskBytes(app: App): number {
  let n = 0;
  for (const s of app.shuffles.values()) n += s.diskBytes();
  return n;
}

function appInfo(app: App, nowMs: number): AppInfo {
  return { appId: app.appId, lastSeenMs: app.lastSeenMs, idleMs: Math.max(0, nowMs - app.lastSeenMs), shuffles: app.shuffles.size, diskBytes: appDiskBytes(app) };
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function listApps(svc: ShuffleService): AppInfo[] {
  const now = Date.now();
  return [...svc.apps.values()].map((a) => appInfo(a, now)).sort((a, b) => byText(a.appId, b.appId));
}

/** One application (UNKNOWN_APP when not registered); does not count as a sign of life. */
export function describeApp(svc: ShuffleService, appId: string): AppDetail {
  const app = svc.apps.require(appId);
  return { ...appInfo(app, Date.now()), shuffleIds: [...app.shuffles.keys()].sort((a, b) => a - b) };
}

/** The shuffles of one application (UNKNOWN_APP when not registered) or of all. */
export function listShuffles(svc: ShuffleService, appId?: string): ShuffleInfo[] {
  const list = appId === undefined ? [...svc.apps.shuffles()] : [...svc.apps.require(appId).shuffles.values()];
  return list.map((s) => ({
    appId: s.appId, shuffleId: s.shuffleId, numMaps: s.numMaps, numPartitions: s.numPartitions, committedMaps: s.committedMaps,
    diskBytes: s.diskBytes(), bufferedBytes: s.bufferedBytes, pushedBytes: s.pushedBytes, createdAtMs: s.createdAtMs, lastActivityMs: s.lastActivityMs,
  })).sort((a, b) => byText(a.appId, b.appId) || a.shuffleId - b.shuffleId);
}

/** Removes an application on admin request; UNKNOWN_APP when not registered. */
export async function removeApp(svc: ShuffleService, appId: string): Promise<RemovedApp> {
  const app = svc.apps.require(appId);
  const removed = { appId, shuffles: app.shuffles.size, diskBytes: appDiskBytes(app) };
  await svc.unregisterApp(appId, 'admin request');
  return removed;
}

/** Removes a shuffle on admin request; UNKNOWN_SHUFFLE when it (or its application) is not registered. */
export async function removeShuffle(svc: ShuffleService, appId: string, shuffleId: number): Promise<RemovedShuffle> {
  checkAppId(appId);
  const s = svc.apps.get(appId)?.shuffles.get(shuffleId);
  if (s === undefined) {
    const why = svc.apps.has(appId) ? 'is not registered' : `is not registered (nor is application ${appId})`;
    throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} ${why}`);
  }
  const diskBytes = s.diskBytes();
  await svc.unregisterShuffle(appId, shuffleId);
  return { appId, shuffleId, diskBytes };
}

/**
 * Removes (or, with dryRun, lists) expired applications and orphaned files.
 * Expired applications go first, so their directories are never reported as
 * orphans too.
 */
export async function cleanup(svc: ShuffleService, req: CleanupRequest, log: Logger): Promise<CleanupResult> {
  if (svc.isStopping) throw new PegasusError(ErrorCode.SHUTTING_DOWN, 'server is stopping');
  const result: CleanupResult = { dryRun: req.dryRun, expiredApps: [], orphans: [], freedBytes: 0 };
  if (req.expired) {
    const now = Date.now();
    const candidates = svc.expiredAppIds(now);
    const bytes = new Map(candidates.map((id) => [id, appDiskBytes(svc.apps.get(id)!)]));
    result.expiredApps = req.dryRun ? candidates : await svc.expireApps(now);
    for (const id of result.expiredApps) result.freedBytes += bytes.get(id) ?? 0;
  }
  if (req.orphans) {
    const orphans: Orphan[] = await svc.engine.sweepOrphans(svc.orphanJudge(), ORPHANS_PER_CLEANUP_MAX, req.dryRun);
    if (!req.dryRun && orphans.length > 0) log.warn('orphans removed', { count: orphans.length, bytes: orphans.reduce((n, o) => n + o.bytes, 0) });
    result.orphans = orphans.map((o) => ({ path: o.path, bytes: o.bytes }));
    for (const o of orphans) result.freedBytes += o.bytes;
  }
  return result;
}

/**
 * Re-reads and checks the stored runs of the named shuffles (all when
 * `appId` is undefined; every shuffle of the app when `shuffleId` is).
 * UNKNOWN_APP / UNKNOWN_SHUFFLE when a named one is not registered.
 */
export async function verify(svc: ShuffleService, appId: string | undefined, shuffleId: number | undefined, chunkBytes: number, log: Logger): Promise<VerifyResult> {
  if (svc.isStopping) throw new PegasusError(ErrorCode.SHUTTING_DOWN, 'server is stopping');
  let targets: Shuffle[];
  if (appId === undefined) {
    if (shuffleId !== undefined) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'verify of a shuffle needs its app');
    targets = [...svc.apps.shuffles()];
  } else {
    const app = svc.apps.require(appId);
    if (shuffleId === undefined) targets = [...app.shuffles.values()];
    else {
      const s = app.shuffles.get(shuffleId);
      if (s === undefined) throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} is not registered`);
      targets = [s];
    }
  }
  const result: VerifyResult = { shuffles: 0, runs: 0, blocks: 0, bytes: 0, errors: [] };
  let errorCount = 0;
  for (const s of targets) {
    if (svc.isStopping) break;
    if (s.isRemoved) continue;
    const counts: VerifyCounts = await s.verify(chunkBytes, (err) => {
      errorCount++;
      if (result.errors.length < VERIFY_ERRORS_MAX) result.errors.push({ appId: s.appId, shuffleId: s.shuffleId, code: err.code, message: err.message });
    });
    result.shuffles++;
    result.runs += counts.runs;
    result.blocks += counts.blocks;
    result.bytes += counts.bytes;
  }
  if (errorCount > 0) log.error('verify found errors', { appId, shuffleId, errors: errorCount, shuffles: result.shuffles });
  return result;
}
