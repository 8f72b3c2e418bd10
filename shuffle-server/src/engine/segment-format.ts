// The on-disk layout of segment files, in one place (prose spec: SEGMENT_FORMAT.md).
// segment-log.ts writes and reads through these functions only, so a layout change
// is a change here plus a version bump; written values never change meaning.
//
// All integers are little-endian. Each header ends with a CRC32C of its own bytes
// before the CRC field, so a header is trusted before any length in it is used.
//
// Segment header, 32 bytes, at offset 0 of every segment file:
//   0  u32  magic 'PSEG'
//   4  u16  format version (1)
//   6  u16  header bytes (32)
//   8  u64  segment id
//  16  u32  log id (LogId.id; the same bytes release 0.1 wrote)
//  20  u32  reserved, 0
//  24  u32  reserved, 0
//  28  u32  CRC32C of bytes 0..28
//
// Runs and block records (run header, block record header) follow the segment
// header back to back. Their layout is shared with UCX readers and lives in
// schemas/ts/run-format.ts (prose: schemas/RUN_FORMAT.md); it is re-exported here
// so the engine has one module for every byte of a segment file.
import assert from 'node:assert/strict';
import { crc32c } from '../../../native/ts/crc32c.js';

import { ErrorCode, PegasusError } from '../errors.js';

export {
  BLOCK_HEADER_BYTES, BLOCK_MAGIC, RUN_HEADER_BYTES, RUN_MAGIC, checkBlockForWrite, decodeBlockHeader, decodeRunHeader,
  encodeBlockHeader, encodeRunHeader, runBytesOf, type RunHeader,
} from '../../../schemas/ts/run-format.js';

export const SEGMENT_FORMAT_VERSION = 1;

export const SEGMENT_HEADER_BYTES = 32;

/** Magic numbers: four ASCII letters read as a little-endian u32, so a hex dump shows the letters. */
export const SEGMENT_MAGIC = Buffer.from('PSEG', 'latin1').readUInt32LE(0);

const U32_MAX = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;

export interface SegmentHeader {
  segmentId: number;
  /** The id of the log the segment belongs to (LogId.id). */
  logId: number;
}

function corrupt(message: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, message);
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

function isU64(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Writes a safe integer as u64 LE; JS numbers cannot hold more than 2^53, asserted by the caller. */
function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_POW_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), at + 4);
}

/** Reads a u64 LE; returns -1 when it exceeds 2^53 (never written by us, so corrupt). */
function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1f_ffff) return -1;
  return hi * TWO_POW_32 + buf.readUInt32LE(at);
}

function checkPrefix(buf: Buffer, at: number, magic: number, version: number, headerBytes: number, what: string): void {
  const gotMagic = buf.readUInt32LE(at);
  if (gotMagic !== magic) throw corrupt(`${what}: bad magic 0x${gotMagic.toString(16)}, expected 0x${magic.toString(16)}`);
  if (version !== SEGMENT_FORMAT_VERSION) throw corrupt(`${what}: unsupported format version ${version}`);
  const gotBytes = buf.readUInt16LE(at + 6);
  if (gotBytes !== headerBytes) throw corrupt(`${what}: header bytes ${gotBytes}, expected ${headerBytes}`);
}

function checkCrc(buf: Buffer, at: number, headerBytes: number, what: string): void {
  const stored = buf.readUInt32LE(at + headerBytes - 4);
  const actual = crc32c(buf.subarray(at, at + headerBytes - 4));
  if (stored !== actual) throw corrupt(`${what}: header CRC32C 0x${stored.toString(16)} != computed 0x${actual.toString(16)}`);
}

function sealCrc(buf: Buffer, at: number, headerBytes: number): void {
  buf.writeUInt32LE(crc32c(buf.subarray(at, at + headerBytes - 4)), at + headerBytes - 4);
}

// ---- segment header ----

export function encodeSegmentHeader(buf: Buffer, at: number, h: SegmentHeader): void {
  assert(isU64(h.segmentId), `segment id ${h.segmentId} not a u64 safe integer`);
  assert(isU32(h.logId), `log id ${h.logId} not a u32`);
  assert(buf.length >= at + SEGMENT_HEADER_BYTES, 'segment header does not fit');
  buf.writeUInt32LE(SEGMENT_MAGIC, at);
  buf.writeUInt16LE(SEGMENT_FORMAT_VERSION, at + 4);
  buf.writeUInt16LE(SEGMENT_HEADER_BYTES, at + 6);
  writeU64(buf, h.segmentId, at + 8);
  buf.writeUInt32LE(h.logId, at + 16);
  buf.writeUInt32LE(0, at + 20);
  buf.writeUInt32LE(0, at + 24);
  sealCrc(buf, at, SEGMENT_HEADER_BYTES);
}

/** Decodes and validates a segment header; throws CORRUPT_DATA (without location: the caller adds it). */
export function decodeSegmentHeader(buf: Buffer, at: number): SegmentHeader {
  if (buf.length < at + SEGMENT_HEADER_BYTES) throw corrupt(`segment header: only ${buf.length - at} bytes`);
  checkPrefix(buf, at, SEGMENT_MAGIC, buf.readUInt16LE(at + 4), SEGMENT_HEADER_BYTES, 'segment header');
  checkCrc(buf, at, SEGMENT_HEADER_BYTES, 'segment header');
  const segmentId = readU64(buf, at + 8);
  if (segmentId < 0) throw corrupt('segment header: segment id beyond 2^53');
  return { segmentId, logId: buf.readUInt32LE(at + 16) };
}
