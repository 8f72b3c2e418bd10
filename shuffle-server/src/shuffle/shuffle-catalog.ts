// The shuffle tenant's view of the engine catalog: applications are owners,
// shuffles are logs, map commits are the tenant's private rows. Every write
// that an acknowledgement depends on is synced (engine/catalog/catalog.ts).
import type { Catalog } from '../engine/catalog/catalog.js';
import type { RunEntry, SegmentEntry } from '../engine/catalog/types.js';
import {
  COMMIT_TAG, SHUFFLE_TENANT, commitRow, decodeCommitKey, decodeCommitValue, decodeShuffleValue, encodeShuffleValue, shuffleLog,
  type CommitEntry, type ShuffleEntry,
} from './shuffle-rows.js';

export class ShuffleCatalog {
  constructor(readonly catalog: Catalog) {}

  putApp(appId: string): Promise<void> {
    return this.catalog.putOwner(SHUFFLE_TENANT.name, appId);
  }

  listApps(): Promise<string[]> {
    return this.catalog.listOwners(SHUFFLE_TENANT.name);
  }

  /** Removes the application and every row of its shuffles, in one synced batch. */
  deleteApp(appId: string): Promise<void> {
    return this.catalog.deleteOwner(SHUFFLE_TENANT.name, appId);
  }

  putShuffle(e: ShuffleEntry): Promise<void> {
    return this.catalog.putLog(shuffleLog(e.appId, e.shuffleId), encodeShuffleValue(e));
  }

  /** Every shuffle of every application, ordered by application id then shuffle id. */
  async listShuffles(): Promise<ShuffleEntry[]> {
    const logs = await this.catalog.listLogs(SHUFFLE_TENANT.name);
    return logs.map(({ log, value }) => ({ appId: log.owner, shuffleId: log.id, ...decodeShuffleValue(value) }));
  }

  /** Removes the shuffle with its runs, commits and segments, in one synced batch. */
  deleteShuffle(appId: string, shuffleId: number): Promise<void> {
    return this.catalog.deleteLog(shuffleLog(appId, shuffleId));
  }

  /** One atomic batch, written with sync:true, after segment data is fdatasync'ed. */
  writeFlush(appId: string, shuffleId: number, runs: RunEntry[], segments: SegmentEntry[], commits: CommitEntry[]): Promise<void> {
    return this.catalog.writeAppend(shuffleLog(appId, shuffleId), runs, segments, commits.map((c) => commitRow(appId, shuffleId, c)));
  }

  listRuns(appId: string, shuffleId: number, partitionStart: number, partitionEnd: number): Promise<RunEntry[]> {
    return this.catalog.listRuns(shuffleLog(appId, shuffleId), partitionStart, partitionEnd);
  }

  /** Commits ordered by map id. */
  listCommits(appId: string, shuffleId: number): Promise<CommitEntry[]> {
    return this.catalog.listPrivate(shuffleLog(appId, shuffleId), COMMIT_TAG, (k, v) => ({ mapId: decodeCommitKey(k).mapId, ...decodeCommitValue(v) }));
  }

  listSegments(appId: string, shuffleId: number): Promise<SegmentEntry[]> {
    return this.catalog.listSegments(shuffleLog(appId, shuffleId));
  }

  close(): Promise<void> {
    return this.catalog.close();
  }
}
