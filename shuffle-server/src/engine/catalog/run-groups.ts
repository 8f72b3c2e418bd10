// Run-group rows: the runs of one append for one group of RUN_GROUP_PARTITIONS
// partitions, in one segment, packed into one catalog row (INDEX_FORMAT.md, "Run
// groups"). One row per run cost a LevelDB op per (partition, append): ~100,000
// ops per append at 100,000 partitions. A run group costs one per group.
//
//   key    <runGroup tag> owner 00 logId:u32 group:u32 segmentId:u64 offset:u64
//          group = floor(partition / RUN_GROUP_PARTITIONS); segmentId and offset
//          are the segment of every entry and the lowest offset among them, so
//          rows of different appends (or of one append's split) never collide.
//   value  little-endian: version:u8 = 1, count:u32, then `count` entries of
//          RUN_GROUP_ENTRY_BYTES: partition:u32 offset:u64 length:u64
//          blockCount:u32 mapMin:u32 mapMax:u32 crc32c:u32, ordered by
//          partition, then offset.
import assert from 'node:assert/strict';

import { RUN_GROUP_ENTRIES_MAX, RUN_GROUP_PARTITIONS } from '../../limits.js';
import type { LogId } from '../log-id.js';
import type { TenantName } from '../tenants.js';
import {
  checkRunFields, checkU32, checkU64, corrupt, decodeLogRowKey, logRowKey, readU64BE, readU64LE, writeU64BE, writeU64LE, type KeyRange,
} from './catalog-keys.js';
import type { RunEntry } from './types.js';

export const RUN_GROUP_VALUE_VERSION = 1;
export const RUN_GROUP_HEADER_BYTES = 5;
export const RUN_GROUP_ENTRY_BYTES = 36;
const KEY_TAIL_BYTES = 4 + 8 + 8;
/** High u32 word of the largest u64 a value may hold (2^53 - 1: JavaScript safe integers). */
const U64_HIGH_MAX = 0x1f_ffff;

/** The group holding a partition's runs. */
export function runGroupOf(partition: number): number {
  return Math.floor(partition / RUN_GROUP_PARTITIONS);
}

export interface RunGroupKey {
  group: number;
  segmentId: number;
  /** Lowest offset among the row's entries. */
  offset: number;
}

export function runGroupKey(tag: number, log: LogId, k: RunGroupKey): Buffer {
  checkU32(k.group, 'run group');
  checkU64(k.segmentId, 'segment id');
  checkU64(k.offset, 'offset');
  const { key, at } = logRowKey(tag, log, KEY_TAIL_BYTES);
  key.writeUInt32BE(k.group, at);
  writeU64BE(key, k.segmentId, at + 4);
  writeU64BE(key, k.offset, at + 12);
  return key;
}

export function decodeRunGroupKey(tenant: TenantName, tag: number, key: Buffer): { log: LogId } & RunGroupKey {
  const { log, at } = decodeLogRowKey(tenant, tag, key, KEY_TAIL_BYTES);
  return { log, group: key.readUInt32BE(at), segmentId: readU64BE(key, at + 4), offset: readU64BE(key, at + 12) };
}

/**
 * Run-group keys of every group holding a partition of [partitionStart,
 * partitionEnd): groups floor(s/G) .. floor((e-1)/G), one range (rows are ordered
 * by group, then segment, then offset). Empty when the partition range is.
 */
export function runGroupRange(tag: number, log: LogId, partitionStart: number, partitionEnd: number): KeyRange {
  checkU32(partitionStart, 'partition start');
  checkU32(partitionEnd, 'partition end');
  if (partitionStart > partitionEnd) assert.fail(`partition range ${partitionStart}..${partitionEnd} reversed`);
  const start = logRowKey(tag, log, 4);
  start.key.writeUInt32BE(runGroupOf(partitionStart), start.at);
  const end = Buffer.from(start.key);
  // The group after the last one read; floor((e-1)/G) + 1 <= 2^32 / G, so it fits a u32.
  end.writeUInt32BE(partitionEnd === partitionStart ? runGroupOf(partitionStart) : runGroupOf(partitionEnd - 1) + 1, start.at);
  return { gte: start.key, lt: end };
}

/** One row to write: its key fields and entries, all of key.group and key.segmentId, ordered by partition then offset. */
export interface RunGroupRow {
  key: RunGroupKey;
  entries: RunEntry[];
}

function byPartitionThenOffset(a: RunEntry, b: RunEntry): number {
  return a.partition - b.partition || a.offset - b.offset;
}

/**
 * The rows of one append's runs: one per (group, segment), split into rows of at
 * most RUN_GROUP_ENTRIES_MAX entries. `runs` may come in any order; the usual
 * order (by partition, as the segment log writes them) needs no sort.
 */
export function packRunGroups(runs: readonly RunEntry[]): RunGroupRow[] {
  // Bucket by segment, then group: an append spans a segment or two.
  const bySegment = new Map<number, Map<number, RunEntry[]>>();
  for (const r of runs) {
    checkU32(r.partition, 'partition');
    let groups = bySegment.get(r.segmentId);
    if (groups === undefined) bySegment.set(r.segmentId, groups = new Map());
    const group = runGroupOf(r.partition);
    const bucket = groups.get(group);
    if (bucket === undefined) groups.set(group, [r]);
    else bucket.push(r);
  }
  const rows: RunGroupRow[] = [];
  for (const [segmentId, groups] of bySegment) {
    for (const [group, bucket] of groups) {
      let sorted = true;
      for (let i = 1; i < bucket.length && sorted; i++) sorted = byPartitionThenOffset(bucket[i - 1]!, bucket[i]!) < 0;
      if (!sorted) bucket.sort(byPartitionThenOffset);
      for (let i = 0; i < bucket.length; i += RUN_GROUP_ENTRIES_MAX) {
        const entries = bucket.slice(i, i + RUN_GROUP_ENTRIES_MAX);
        let offset = entries[0]!.offset;
        for (const e of entries) if (e.offset < offset) offset = e.offset;
        rows.push({ key: { group, segmentId, offset }, entries });
      }
    }
  }
  return rows;
}

/** The value of one row (entries as packRunGroups leaves them: one group and segment, ordered, 1..RUN_GROUP_ENTRIES_MAX). */
export function encodeRunGroupValue(row: RunGroupRow): Buffer {
  const { entries, key } = row;
  if (entries.length === 0 || entries.length > RUN_GROUP_ENTRIES_MAX) assert.fail(`run group of ${entries.length} entries`);
  const v = Buffer.allocUnsafe(RUN_GROUP_HEADER_BYTES + entries.length * RUN_GROUP_ENTRY_BYTES);
  v[0] = RUN_GROUP_VALUE_VERSION;
  v.writeUInt32LE(entries.length, 1);
  let at = RUN_GROUP_HEADER_BYTES;
  let prior: RunEntry | null = null;
  for (const e of entries) {
    if (runGroupOf(e.partition) !== key.group || e.segmentId !== key.segmentId) {
      assert.fail(`run ${e.partition}@${e.segmentId}:${e.offset} is not of group ${key.group} segment ${key.segmentId}`);
    }
    if (e.offset < key.offset) assert.fail(`run at ${e.offset} before its row's offset ${key.offset}`);
    if (prior !== null && byPartitionThenOffset(prior, e) >= 0) assert.fail('run group entries out of order');
    checkU64(e.offset, 'offset');
    checkRunFields(e);
    v.writeUInt32LE(e.partition, at);
    writeU64LE(v, e.offset, at + 4);
    writeU64LE(v, e.length, at + 12);
    v.writeUInt32LE(e.blockCount, at + 20);
    v.writeUInt32LE(e.mapMin, at + 24);
    v.writeUInt32LE(e.mapMax, at + 28);
    v.writeUInt32LE(e.crc32c, at + 32);
    at += RUN_GROUP_ENTRY_BYTES;
    prior = e;
  }
  return v;
}

/**
 * Checks a row's value against its key and appends to `out` its entries of
 * partitions [partitionStart, partitionEnd), in row order (partition, offset).
 * The whole row is checked (version, exact length, count >= 1, every partition in
 * the key's group and in order, u64s up to 2^53); entries outside the range are skipped without
 * being decoded (a read of a few partitions finds them by binary search: most of
 * a row belongs to other partitions). CORRUPT_DATA on anything malformed.
 */
export function decodeRunGroupValue(key: RunGroupKey, value: Buffer, partitionStart: number, partitionEnd: number, out: RunEntry[]): void {
  const what = (): string => `run group ${key.group} segment ${key.segmentId} offset ${key.offset}`;
  if (value.length < RUN_GROUP_HEADER_BYTES || value[0] !== RUN_GROUP_VALUE_VERSION) {
    throw corrupt(`${what()}: value is not of version ${RUN_GROUP_VALUE_VERSION}`);
  }
  const count = value.readUInt32LE(1);
  if (count < 1 || value.length !== RUN_GROUP_HEADER_BYTES + count * RUN_GROUP_ENTRY_BYTES) {
    throw corrupt(`${what()}: ${value.length} bytes for ${count} entries`);
  }
  const low = key.group * RUN_GROUP_PARTITIONS;
  const high = low + RUN_GROUP_PARTITIONS;
  let prior = -1;
  for (let i = 0, at = RUN_GROUP_HEADER_BYTES; i < count; i++, at += RUN_GROUP_ENTRY_BYTES) {
    const p = value.readUInt32LE(at);
    if (p < low || p >= high) throw corrupt(`${what()}: entry of partition ${p} outside the group`);
    if (p < prior) throw corrupt(`${what()}: entries out of partition order`);
    if (value.readUInt32LE(at + 8) > U64_HIGH_MAX || value.readUInt32LE(at + 16) > U64_HIGH_MAX) throw corrupt(`${what()}: u64 beyond 2^53`);
    // Same partition: offsets must rise (compared on the raw u64 words).
    if (p === prior && compareU64LE(value, at - RUN_GROUP_ENTRY_BYTES + 4, at + 4) >= 0) throw corrupt(`${what()}: entries out of offset order`);
    prior = p;
  }
  // First entry of partition >= partitionStart.
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value.readUInt32LE(RUN_GROUP_HEADER_BYTES + mid * RUN_GROUP_ENTRY_BYTES) < partitionStart) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo, at = RUN_GROUP_HEADER_BYTES + lo * RUN_GROUP_ENTRY_BYTES; i < count; i++, at += RUN_GROUP_ENTRY_BYTES) {
    const partition = value.readUInt32LE(at);
    if (partition >= partitionEnd) break;
    const offset = readU64LE(value, at + 4);
    if (offset < key.offset) throw corrupt(`${what()}: entry at offset ${offset} before the row's`);
    const mapMin = value.readUInt32LE(at + 24);
    const mapMax = value.readUInt32LE(at + 28);
    if (mapMin > mapMax) throw corrupt(`${what()}: entry of partition ${partition} has mapMin > mapMax`);
    out.push({
      partition, segmentId: key.segmentId, offset, length: readU64LE(value, at + 12),
      blockCount: value.readUInt32LE(at + 20), mapMin, mapMax, crc32c: value.readUInt32LE(at + 32),
    });
  }
}

/** Compares two little-endian u64 fields of one buffer. */
function compareU64LE(buf: Buffer, a: number, b: number): number {
  return (buf.readUInt32LE(a + 4) - buf.readUInt32LE(b + 4)) || (buf.readUInt32LE(a) - buf.readUInt32LE(b));
}
