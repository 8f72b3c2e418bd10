// Binary keys and values of the LevelDB index, in one place (prose spec:
// INDEX_FORMAT.md). A tag byte never changes meaning and a retired tag is never
// reused.
//
// Keys: numbers are big-endian so LevelDB's bytewise order is numeric order. The
// application id (ASCII, never containing 0x00) is followed by a 0x00 separator, so
// no application's keys fall inside another's range even when one id is a prefix
// of another ("app" < "app\x00..." < "app1").
//
//   meta     00 01                                             -> u32 index format version
//   app      01 appId 00                                       -> AppValue
//   shuffle  02 appId 00 shuffleId:u32                         -> ShuffleValue
//   run      03 appId 00 shuffleId:u32 partition:u32 segmentId:u64 offset:u64 -> RunValue
//   commit   04 appId 00 shuffleId:u32 mapId:u32               -> CommitValue
//   segment  05 appId 00 shuffleId:u32 segmentId:u64           -> SegmentValue
//
// Values: little-endian, first byte the value version, then fixed fields. A
// version's layout never changes; readers accept every version ever written.
//   AppValue      1 B   v1: version
//   ShuffleValue 17 B   v1: version, numMaps:u32, numPartitions:u32, createdAtMs:u64
//   RunValue     21 B   v1: version, length:u64, blockCount:u32, mapMin:u32, mapMax:u32
//                25 B   v2: v1 fields, crc32c:u32 (CRC32C of the run's bytes as written)
//   CommitValue  13 B   v1: version, attempt:u64, batchCount:u32
//   SegmentValue 10 B   v1: version, durableBytes:u64, flags:u8 (bit 0 sealed); in <dataDir>
//                14 B   v2: v1 fields, tierId:u32 (store/tiers.ts tierIdOf)
import assert from 'node:assert/strict';

import { checkAppId } from '../../../schemas/ts/ids.js';
import { ErrorCode, PegasusError } from '../errors.js';
import type { CommitEntry, RunEntry, SegmentEntry, ShuffleEntry } from './types.js';

/** Version of the key layout, stored under the meta key; a reader refuses any other. */
export const INDEX_FORMAT_VERSION = 1;
/** Version byte of the values whose layout never changed (app, shuffle, commit). */
export const VALUE_VERSION = 1;
/** Run values: v1 without, v2 with the run's CRC32C. Writers write v2. */
export const RUN_VALUE_VERSION = 2;
/** Segment values: v1 without (segment in the data directory), v2 with the tier id. Writers write v2. */
export const SEGMENT_VALUE_VERSION = 2;

export const Tag = {
  META: 0x00,
  APP: 0x01,
  SHUFFLE: 0x02,
  RUN: 0x03,
  COMMIT: 0x04,
  SEGMENT: 0x05,
} as const;
export type Tag = (typeof Tag)[keyof typeof Tag];

/** Meta key ids (second byte of a meta key). */
const META_FORMAT_VERSION = 0x01;

const SEPARATOR = 0x00;
const U32_MAX = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;

export const APP_VALUE_BYTES = 1;
export const SHUFFLE_VALUE_BYTES = 17;
export const RUN_VALUE_V1_BYTES = 21;
export const RUN_VALUE_BYTES = 25;
export const COMMIT_VALUE_BYTES = 13;
export const SEGMENT_VALUE_V1_BYTES = 10;
export const SEGMENT_VALUE_BYTES = 14;
const SEGMENT_FLAG_SEALED = 0x01;

export interface KeyRange {
  gte: Buffer;
  lt: Buffer;
}

function corrupt(message: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, `index: ${message}`);
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) assert.fail(`${what} ${n} not a u32`);
}

function checkU64(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) assert.fail(`${what} ${n} not a safe u64`);
}

function writeU64BE(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), at);
  buf.writeUInt32BE(value % TWO_POW_32, at + 4);
}

function readU64BE(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi > 0x1f_ffff) throw corrupt(`u64 beyond 2^53 in key ${buf.toString('hex')}`);
  return hi * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

function writeU64LE(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_POW_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), at + 4);
}

function readU64LE(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1f_ffff) throw corrupt('u64 beyond 2^53 in value');
  return hi * TWO_POW_32 + buf.readUInt32LE(at);
}

/** tag, appId, separator, then `tail` bytes for the caller to fill; returns the key and the tail's offset. */
function keyWithApp(tag: Tag, appId: string, tail: number): { key: Buffer; at: number } {
  checkAppId(appId);
  const key = Buffer.allocUnsafe(1 + appId.length + 1 + tail);
  key[0] = tag;
  key.write(appId, 1, 'latin1');
  key[1 + appId.length] = SEPARATOR;
  return { key, at: 2 + appId.length };
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
  return Buffer.from([Tag.META, META_FORMAT_VERSION]);
}

export function appKey(appId: string): Buffer {
  return keyWithApp(Tag.APP, appId, 0).key;
}

function shufflePrefix(tag: Tag, appId: string, shuffleId: number, tail: number): { key: Buffer; at: number } {
  checkU32(shuffleId, 'shuffle id');
  const { key, at } = keyWithApp(tag, appId, 4 + tail);
  key.writeUInt32BE(shuffleId, at);
  return { key, at: at + 4 };
}

export function shuffleKey(appId: string, shuffleId: number): Buffer {
  return shufflePrefix(Tag.SHUFFLE, appId, shuffleId, 0).key;
}

export function runKey(appId: string, shuffleId: number, run: Pick<RunEntry, 'partition' | 'segmentId' | 'offset'>): Buffer {
  checkU32(run.partition, 'partition');
  checkU64(run.segmentId, 'segment id');
  checkU64(run.offset, 'offset');
  const { key, at } = shufflePrefix(Tag.RUN, appId, shuffleId, 4 + 8 + 8);
  key.writeUInt32BE(run.partition, at);
  writeU64BE(key, run.segmentId, at + 4);
  writeU64BE(key, run.offset, at + 12);
  return key;
}

export function commitKey(appId: string, shuffleId: number, mapId: number): Buffer {
  checkU32(mapId, 'map id');
  const { key, at } = shufflePrefix(Tag.COMMIT, appId, shuffleId, 4);
  key.writeUInt32BE(mapId, at);
  return key;
}

export function segmentKey(appId: string, shuffleId: number, segmentId: number): Buffer {
  checkU64(segmentId, 'segment id');
  const { key, at } = shufflePrefix(Tag.SEGMENT, appId, shuffleId, 8);
  writeU64BE(key, segmentId, at);
  return key;
}

// ---- ranges ----

/** Every key of one tag. */
export function tagRange(tag: Tag): KeyRange {
  return prefixRange(Buffer.from([tag]));
}

/** Every key of one tag and application. */
export function appRange(tag: Tag, appId: string): KeyRange {
  return prefixRange(keyWithApp(tag, appId, 0).key);
}

/** Every key of one tag and shuffle. */
export function shuffleRange(tag: Tag, appId: string, shuffleId: number): KeyRange {
  return prefixRange(shufflePrefix(tag, appId, shuffleId, 0).key);
}

/** Run keys of partitions [partitionStart, partitionEnd). */
export function runRange(appId: string, shuffleId: number, partitionStart: number, partitionEnd: number): KeyRange {
  checkU32(partitionStart, 'partition start');
  checkU32(partitionEnd, 'partition end');
  if (partitionStart > partitionEnd) assert.fail(`partition range ${partitionStart}..${partitionEnd} reversed`);
  const start = shufflePrefix(Tag.RUN, appId, shuffleId, 4);
  start.key.writeUInt32BE(partitionStart, start.at);
  const end = Buffer.from(start.key);
  end.writeUInt32BE(partitionEnd, start.at);
  return { gte: start.key, lt: end };
}

// ---- key decoding ----

/** appId and the offset of the byte after its separator; checks the tag. */
function readApp(key: Buffer, tag: Tag): { appId: string; at: number } {
  if (key.length < 3 || key[0] !== tag) throw corrupt(`key ${key.toString('hex')} is not of tag ${tag}`);
  const sep = key.indexOf(SEPARATOR, 1);
  if (sep < 2) throw corrupt(`key ${key.toString('hex')} has no application id`);
  return { appId: key.toString('latin1', 1, sep), at: sep + 1 };
}

function checkKeyLength(key: Buffer, expected: number): void {
  if (key.length !== expected) throw corrupt(`key ${key.toString('hex')} has ${key.length} bytes, expected ${expected}`);
}

export function decodeAppKey(key: Buffer): string {
  const { appId, at } = readApp(key, Tag.APP);
  checkKeyLength(key, at);
  return appId;
}

export function decodeShuffleKey(key: Buffer): { appId: string; shuffleId: number } {
  const { appId, at } = readApp(key, Tag.SHUFFLE);
  checkKeyLength(key, at + 4);
  return { appId, shuffleId: key.readUInt32BE(at) };
}

export function decodeRunKey(key: Buffer): { appId: string; shuffleId: number; partition: number; segmentId: number; offset: number } {
  const { appId, at } = readApp(key, Tag.RUN);
  checkKeyLength(key, at + 24);
  return {
    appId,
    shuffleId: key.readUInt32BE(at),
    partition: key.readUInt32BE(at + 4),
    segmentId: readU64BE(key, at + 8),
    offset: readU64BE(key, at + 16),
  };
}

export function decodeCommitKey(key: Buffer): { appId: string; shuffleId: number; mapId: number } {
  const { appId, at } = readApp(key, Tag.COMMIT);
  checkKeyLength(key, at + 8);
  return { appId, shuffleId: key.readUInt32BE(at), mapId: key.readUInt32BE(at + 4) };
}

export function decodeSegmentKey(key: Buffer): { appId: string; shuffleId: number; segmentId: number } {
  const { appId, at } = readApp(key, Tag.SEGMENT);
  checkKeyLength(key, at + 12);
  return { appId, shuffleId: key.readUInt32BE(at), segmentId: readU64BE(key, at + 4) };
}

// ---- values ----

function newValue(bytes: number, version = VALUE_VERSION): Buffer {
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

function checkValue(value: Buffer, bytes: number, what: string): void {
  if (value.length !== bytes || value[0] !== VALUE_VERSION) {
    throw corrupt(`${what} value ${value.toString('hex')}: expected ${bytes} bytes of version ${VALUE_VERSION}`);
  }
}

export function encodeMetaFormatValue(): Buffer {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(INDEX_FORMAT_VERSION, 0);
  return v;
}

export function decodeMetaFormatValue(value: Buffer): number {
  if (value.length !== 4) throw corrupt(`format version value ${value.toString('hex')} is not 4 bytes`);
  return value.readUInt32LE(0);
}

export function encodeAppValue(): Buffer {
  return newValue(APP_VALUE_BYTES);
}

export function decodeAppValue(value: Buffer): void {
  checkValue(value, APP_VALUE_BYTES, 'app');
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

export function encodeRunValue(e: RunEntry): Buffer {
  checkU64(e.length, 'run length');
  checkU32(e.blockCount, 'block count');
  checkU32(e.mapMin, 'mapMin');
  checkU32(e.mapMax, 'mapMax');
  if (e.mapMin > e.mapMax) assert.fail(`run mapMin ${e.mapMin} > mapMax ${e.mapMax}`);
  if (e.crc32c === null) assert.fail('run written without its CRC32C');
  checkU32(e.crc32c, 'run crc32c');
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
