// The shuffle tenant's own catalog rows (layout: engine/catalog/INDEX_FORMAT.md):
// the value of a shuffle's log row and the map commit rows.
//   log value (tag 02)   17 B  v1: version, numMaps:u32, numPartitions:u32, createdAtMs:u64
//   commit (tag 04)      key: 04 appId 00 shuffleId:u32 mapId:u32
//                        13 B  v1: version, attempt:u64, batchCount:u32
import type { CatalogRow } from '../engine/catalog/catalog.js';
import { ErrorCode, PegasusError } from '../errors.js';
import {
  checkU32, checkU64, checkValue, decodeLogRowKey, logRowKey, newValue, readU64LE, writeU64LE,
} from '../engine/catalog/catalog-keys.js';
import type { LogId } from '../engine/log-id.js';
import { TENANTS } from '../engine/tenants.js';

export const SHUFFLE_TENANT = TENANTS.shuffle;
/** The commit rows' tag: the shuffle tenant's one private tag. */
export const COMMIT_TAG = SHUFFLE_TENANT.tags.logPrivate[0]!;

export const SHUFFLE_VALUE_BYTES = 17;
export const COMMIT_VALUE_BYTES = 13;

export interface ShuffleEntry {
  appId: string;
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
  createdAtMs: number;
}

/** The winning attempt of one map. */
export interface CommitEntry {
  mapId: number;
  attempt: number;
  batchCount: number;
}

/** What an operation on a removed shuffle answers. */
export function shuffleGone(appId: string, shuffleId: number): PegasusError {
  return new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} was removed`);
}

/** The log of a shuffle. */
export function shuffleLog(appId: string, shuffleId: number): LogId {
  return { tenant: SHUFFLE_TENANT.name, owner: appId, id: shuffleId };
}

export function encodeShuffleValue(e: ShuffleEntry): Buffer {
  checkU32(e.numMaps, 'numMaps');
  checkU32(e.numPartitions, 'numPartitions');
  checkU64(e.createdAtMs, 'createdAtMs');
  const v = newValue(SHUFFLE_VALUE_BYTES);
  v.writeUInt32LE(e.numMaps, 1);
  v.writeUInt32LE(e.numPartitions, 5);
  writeU64LE(v, e.createdAtMs, 9);
  return v;
}

export function decodeShuffleValue(value: Buffer): Pick<ShuffleEntry, 'numMaps' | 'numPartitions' | 'createdAtMs'> {
  checkValue(value, SHUFFLE_VALUE_BYTES, 'shuffle');
  return { numMaps: value.readUInt32LE(1), numPartitions: value.readUInt32LE(5), createdAtMs: readU64LE(value, 9) };
}

export function commitKey(appId: string, shuffleId: number, mapId: number): Buffer {
  checkU32(mapId, 'map id');
  const { key, at } = logRowKey(COMMIT_TAG, shuffleLog(appId, shuffleId), 4);
  key.writeUInt32BE(mapId, at);
  return key;
}

export function decodeCommitKey(key: Buffer): { appId: string; shuffleId: number; mapId: number } {
  const { log, at } = decodeLogRowKey(SHUFFLE_TENANT.name, COMMIT_TAG, key, 4);
  return { appId: log.owner, shuffleId: log.id, mapId: key.readUInt32BE(at) };
}

export function encodeCommitValue(e: CommitEntry): Buffer {
  checkU64(e.attempt, 'attempt');
  checkU32(e.batchCount, 'batch count');
  const v = newValue(COMMIT_VALUE_BYTES);
  writeU64LE(v, e.attempt, 1);
  v.writeUInt32LE(e.batchCount, 9);
  return v;
}

export function decodeCommitValue(value: Buffer): Pick<CommitEntry, 'attempt' | 'batchCount'> {
  checkValue(value, COMMIT_VALUE_BYTES, 'commit');
  return { attempt: readU64LE(value, 1), batchCount: value.readUInt32LE(9) };
}

export function commitRow(appId: string, shuffleId: number, c: CommitEntry): CatalogRow {
  return { key: commitKey(appId, shuffleId, c.mapId), value: encodeCommitValue(c) };
}
