// Binary keys and values of the catalog (LevelDB), in one place (prose spec:
// INDEX_FORMAT.md). A tag byte never changes meaning and a retired tag is never
// reused; tenants get their tags from engine/tenants.ts.
//
// Keys: numbers are big-endian so LevelDB's bytewise order is numeric order. The
// owner id (ASCII, never containing 0x00) is followed by a 0x00 separator, so no
// owner's keys fall inside another's range even when one id is a prefix of
// another ("app" < "app\x00..." < "app1").
//
//   meta     00 01                                               -> u32 index format version
//   owner    <owner tag> owner 00                                -> OwnerValue
//   log      <log tag> owner 00 logId:u32                        -> the tenant's value
//   run      <run tag> owner 00 logId:u32 partition:u32 segmentId:u64 offset:u64 -> RunValue (read only: indexes before run groups)
//   runGroup <runGroup tag> owner 00 logId:u32 group:u32 segmentId:u64 offset:u64 -> RunGroupValue (run-groups.ts)
//   segment  <segment tag> owner 00 logId:u32 segmentId:u64      -> SegmentValue
//   private  <tenant tag> owner 00 logId:u32 <tenant bytes>      -> the tenant's value
//
// Values: little-endian, first byte the value version, then fixed fields. A
// version's layout never changes; readers accept every version ever written.
//   OwnerValue    1 B   v1: version
//   RunValue     21 B   v1: version, length:u64, blockCount:u32, mapMin:u32, mapMax:u32
//                25 B   v2: v1 fields, crc32c:u32 (CRC32C of the run's bytes as written)
//   SegmentValue 10 B   v1: version, durableBytes:u64, flags:u8 (bit 0 sealed); in <dataDir>
//                14 B   v2: v1 fields, tierId:u32 (engine/tiers.ts tierIdOf)
import assert from 'node:assert/strict';

import { checkAppId } from '../../../../schemas/ts/ids.js';
import { ErrorCode, PegasusError } from '../../errors.js';
import { checkLogId, type LogId } from '../log-id.js';
import type { TenantName } from '../tenants.js';
import type { RunEntry, SegmentEntry } from './types.js';

/**
 * Version of the key layout, stored under the meta key. 2 added run-group rows
 * (run-groups.ts): a server reading 1 would miss those runs, so an index holding
 * them must say 2. A version-1 index is a valid version-2 index (it only lacks
 * run groups) and is upgraded in place at open; any other version is refused.
 */
export const INDEX_FORMAT_VERSION = 2;
/** Versions this server opens: 1 is upgraded to INDEX_FORMAT_VERSION at open. */
export const INDEX_FORMAT_VERSIONS_READ: readonly number[] = [1, 2];
/** Version byte of the values whose layout never changed. */
export const VALUE_VERSION = 1;
/** Run values: v1 without, v2 with the run's CRC32C. Writers write v2. */
export const RUN_VALUE_VERSION = 2;
/** Segment values: v1 without (segment in the data directory), v2 with the tier id. Writers write v2. */
export const SEGMENT_VALUE_VERSION = 2;

/** The meta tag; every other tag belongs to a tenant (engine/tenants.ts). */
export const META_TAG = 0x00;

/** Meta key ids (second byte of a meta key). */
const META_FORMAT_VERSION = 0x01;

const SEPARATOR = 0x00;
const U32_MAX = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;

export const OWNER_VALUE_BYTES = 1;
export const RUN_VALUE_V1_BYTES = 21;
export const RUN_VALUE_BYTES = 25;
export const SEGMENT_VALUE_V1_BYTES = 10;
export const SEGMENT_VALUE_BYTES = 14;
const SEGMENT_FLAG_SEALED = 0x01;

export interface KeyRange {
  gte: Buffer;
  lt: Buffer;
}

export function corrupt(message: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, `index: ${message}`);
}

export function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) assert.fail(`${what} ${n} not a u32`);
}

export function checkU64(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) assert.fail(`${what} ${n} not a safe u64`);
}

export function writeU64BE(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), at);
  buf.writeUInt32BE(value % TWO_POW_32, at + 4);
}

export function readU64BE(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi > 0x1f_ffff) throw corrupt(`u64 beyond 2^53 in key ${buf.toString('hex')}`);
  return hi * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

export function writeU64LE(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_POW_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), at + 4);
}

export function readU64LE(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1f_ffff) throw corrupt('u64 beyond 2^53 in value');
  return hi * TWO_POW_32 + buf.readUInt32LE(at);
}

/** tag, owner, separator, then `tail` bytes for the caller to fill; returns the key and the tail's offset. */
function keyWithOwner(tag: number, owner: string, tail: number): { key: Buffer; at: number } {
  checkAppId(owner);
  const key = Buffer.allocUnsafe(1 + owner.length + 1 + tail);
  key[0] = tag;
  key.write(owner, 1, 'latin1');
  key[1 + owner.length] = SEPARATOR;
  return { key, at: 2 + owner.length };
}

/** The smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  assert.fail('prefix of only 0xff bytes has no end');
}

function prefixRange(prefix: Buffer): KeyRange {
  return { gte: prefix, lt: prefixEnd(prefix) };
}

// ---- keys ----

export function metaFormatKey(): Buffer {
  return Buffer.from([META_TAG, META_FORMAT_VERSION]);
}

export function ownerKey(tag: number, owner: string): Buffer {
  return keyWithOwner(tag, owner, 0).key;
}

/** tag, owner, separator, log id, then `tail` bytes for the caller to fill. */
export function logRowKey(tag: number, log: LogId, tail: number): { key: Buffer; at: number } {
  checkLogId(log);
  const { key, at } = keyWithOwner(tag, log.owner, 4 + tail);
  key.writeUInt32BE(log.id, at);
  return { key, at: at + 4 };
}

export function logKey(tag: number, log: LogId): Buffer {
  return logRowKey(tag, log, 0).key;
}

export function runKey(tag: number, log: LogId, run: Pick<RunEntry, 'partition' | 'segmentId' | 'offset'>): Buffer {
  checkU32(run.partition, 'partition');
  checkU64(run.segmentId, 'segment id');
  checkU64(run.offset, 'offset');
  const { key, at } = logRowKey(tag, log, 4 + 8 + 8);
  key.writeUInt32BE(run.partition, at);
  writeU64BE(key, run.segmentId, at + 4);
  writeU64BE(key, run.offset, at + 12);
  return key;
}

export function segmentKey(tag: number, log: LogId, segmentId: number): Buffer {
  checkU64(segmentId, 'segment id');
  const { key, at } = logRowKey(tag, log, 8);
  writeU64BE(key, segmentId, at);
  return key;
}

// ---- ranges ----

/** Every key of one tag. */
export function tagRange(tag: number): KeyRange {
  return prefixRange(Buffer.from([tag]));
}

/** Every key of one tag and owner. */
export function ownerRange(tag: number, owner: string): KeyRange {
  return prefixRange(keyWithOwner(tag, owner, 0).key);
}

/** Every key of one tag and log. */
export function logRange(tag: number, log: LogId): KeyRange {
  return prefixRange(logRowKey(tag, log, 0).key);
}

/** Run keys of partitions [partitionStart, partitionEnd). */
export function runRange(tag: number, log: LogId, partitionStart: number, partitionEnd: number): KeyRange {
  checkU32(partitionStart, 'partition start');
  checkU32(partitionEnd, 'partition end');
  if (partitionStart > partitionEnd) assert.fail(`partition range ${partitionStart}..${partitionEnd} reversed`);
  const start = logRowKey(tag, log, 4);
  start.key.writeUInt32BE(partitionStart, start.at);
  const end = Buffer.from(start.key);
  end.writeUInt32BE(partitionEnd, start.at);
  return { gte: start.key, lt: end };
}

// ---- key decoding ----

/** The owner and the offset of the byte after its separator; checks the tag. */
function readOwner(key: Buffer, tag: number): { owner: string; at: number } {
  if (key.length < 3 || key[0] !== tag) throw corrupt(`key ${key.toString('hex')} is not of tag ${tag}`);
  const sep = key.indexOf(SEPARATOR, 1);
  if (sep < 2) throw corrupt(`key ${key.toString('hex')} has no owner id`);
  return { owner: key.toString('latin1', 1, sep), at: sep + 1 };
}

function checkKeyLength(key: Buffer, expected: number): void {
  if (key.length !== expected) throw corrupt(`key ${key.toString('hex')} has ${key.length} bytes, expected ${expected}`);
}

export function decodeOwnerKey(tag: number, key: Buffer): string {
  const { owner, at } = readOwner(key, tag);
  checkKeyLength(key, at);
  return owner;
}

/** A log row's owner and log id, and the offset of its `tailBytes` tenant bytes (checked to be exactly that many). */
export function decodeLogRowKey(tenant: TenantName, tag: number, key: Buffer, tailBytes: number): { log: LogId; at: number } {
  const { owner, at } = readOwner(key, tag);
  checkKeyLength(key, at + 4 + tailBytes);
  return { log: { tenant, owner, id: key.readUInt32BE(at) }, at: at + 4 };
}

export function decodeRunKey(tenant: TenantName, tag: number, key: Buffer): { log: LogId; partition: number; segmentId: number; offset: number } {
  const { log, at } = decodeLogRowKey(tenant, tag, key, 20);
  return { log, partition: key.readUInt32BE(at), segmentId: readU64BE(key, at + 4), offset: readU64BE(key, at + 12) };
}

export function decodeSegmentKey(tenant: TenantName, tag: number, key: Buffer): { log: LogId; segmentId: number } {
  const { log, at } = decodeLogRowKey(tenant, tag, key, 8);
  return { log, segmentId: readU64BE(key, at) };
}

// ---- values ----

export function newValue(bytes: number, version = VALUE_VERSION): Buffer {
  const v = Buffer.alloc(bytes);
  v[0] = version;
  return v;
}

/** The version of a value whose length must match its version's; CORRUPT_DATA otherwise. */
function versionOf(value: Buffer, bytesByVersion: Record<number, number>, what: string): number {
  const version = value.length > 0 ? value[0]! : -1;
  const bytes = bytesByVersion[version];
  if (bytes === undefined || value.length !== bytes) {
    const known = Object.entries(bytesByVersion).map(([v, n]) => `${n} bytes of version ${v}`).join(' or ');
    throw corrupt(`${what} value ${value.toString('hex')}: expected ${known}`);
  }
  return version;
}

export function checkValue(value: Buffer, bytes: number, what: string): void {
  if (value.length !== bytes || value[0] !== VALUE_VERSION) {
    throw corrupt(`${what} value ${value.toString('hex')}: expected ${bytes} bytes of version ${VALUE_VERSION}`);
  }
}

export function encodeMetaFormatValue(version = INDEX_FORMAT_VERSION): Buffer {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(version, 0);
  return v;
}

export function decodeMetaFormatValue(value: Buffer): number {
  if (value.length !== 4) throw corrupt(`format version value ${value.toString('hex')} is not 4 bytes`);
  return value.readUInt32LE(0);
}

/** An owner row's value (version 1, no fields): the owner exists. */
export function encodeOwnerValue(): Buffer {
  return newValue(OWNER_VALUE_BYTES);
}

export function decodeOwnerValue(value: Buffer): void {
  checkValue(value, OWNER_VALUE_BYTES, 'owner');
}

/**
 * The checks every run written passes, as a run row or a run-group entry: field
 * ranges, mapMin <= mapMax, and a CRC32C (every run written carries one).
 */
export function checkRunFields(e: RunEntry): asserts e is RunEntry & { crc32c: number } {
  checkU64(e.length, 'run length');
  checkU32(e.blockCount, 'block count');
  checkU32(e.mapMin, 'mapMin');
  checkU32(e.mapMax, 'mapMax');
  if (e.mapMin > e.mapMax) assert.fail(`run mapMin ${e.mapMin} > mapMax ${e.mapMax}`);
  if (e.crc32c === null) assert.fail('run written without its CRC32C');
  checkU32(e.crc32c, 'run crc32c');
}

export function encodeRunValue(e: RunEntry): Buffer {
  checkRunFields(e);
  const v = newValue(RUN_VALUE_BYTES, RUN_VALUE_VERSION);
  writeU64LE(v, e.length, 1);
  v.writeUInt32LE(e.blockCount, 9);
  v.writeUInt32LE(e.mapMin, 13);
  v.writeUInt32LE(e.mapMax, 17);
  v.writeUInt32LE(e.crc32c, 21);
  return v;
}

/** Decodes a run value of version 1 (crc32c null: written before run checksums) or 2. */
export function decodeRunValue(value: Buffer): Pick<RunEntry, 'length' | 'blockCount' | 'mapMin' | 'mapMax' | 'crc32c'> {
  const version = versionOf(value, { 1: RUN_VALUE_V1_BYTES, 2: RUN_VALUE_BYTES }, 'run');
  const r = {
    length: readU64LE(value, 1),
    blockCount: value.readUInt32LE(9),
    mapMin: value.readUInt32LE(13),
    mapMax: value.readUInt32LE(17),
    crc32c: version >= 2 ? value.readUInt32LE(21) : null,
  };
  if (r.mapMin > r.mapMax) throw corrupt(`run value ${value.toString('hex')}: mapMin > mapMax`);
  return r;
}

export function encodeSegmentValue(e: SegmentEntry): Buffer {
  checkU64(e.durableBytes, 'durable bytes');
  if (e.tierId === null) assert.fail('segment written without its tier');
  checkU32(e.tierId, 'tier id');
  const v = newValue(SEGMENT_VALUE_BYTES, SEGMENT_VALUE_VERSION);
  writeU64LE(v, e.durableBytes, 1);
  v[9] = e.sealed ? SEGMENT_FLAG_SEALED : 0;
  v.writeUInt32LE(e.tierId, 10);
  return v;
}

/** Decodes a segment value of version 1 (tierId null: the segment is in the data directory) or 2. */
export function decodeSegmentValue(value: Buffer): Pick<SegmentEntry, 'durableBytes' | 'sealed' | 'tierId'> {
  const version = versionOf(value, { 1: SEGMENT_VALUE_V1_BYTES, 2: SEGMENT_VALUE_BYTES }, 'segment');
  const flags = value[9]!;
  if ((flags & ~SEGMENT_FLAG_SEALED) !== 0) throw corrupt(`segment value ${value.toString('hex')}: unknown flags`);
  return {
    durableBytes: readU64LE(value, 1),
    sealed: (flags & SEGMENT_FLAG_SEALED) !== 0,
    tierId: version >= 2 ? value.readUInt32LE(10) : null,
  };
}
