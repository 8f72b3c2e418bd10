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

import { checkCrc, checkPrefix, corruptHeader, isU32, isU64, readU64, sealCrc, writeU64 } from '../../../schemas/ts/header-fields.js';

export {
  BLOCK_HEADER_BYTES, BLOCK_MAGIC, RUN_HEADER_BYTES, RUN_MAGIC, checkBlockForWrite, decodeBlockHeader, decodeRunHeader,
  encodeBlockHeader, encodeRunHeader, runBytesOf, type RunHeader,
} from '../../../schemas/ts/run-format.js';

export const SEGMENT_FORMAT_VERSION = 1;

export const SEGMENT_HEADER_BYTES = 32;

/** Magic numbers: four ASCII letters read as a little-endian u32, so a hex dump shows the letters. */
export const SEGMENT_MAGIC = Buffer.from('PSEG', 'latin1').readUInt32LE(0);


export interface SegmentHeader {
  segmentId: number;
  /** The id of the log the segment belongs to (LogId.id). */
  logId: number;
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
  if (buf.length < at + SEGMENT_HEADER_BYTES) throw corruptHeader(`segment header: only ${buf.length - at} bytes`);
  checkPrefix(buf, at, SEGMENT_MAGIC, buf.readUInt16LE(at + 4), SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, 'segment header');
  checkCrc(buf, at, SEGMENT_HEADER_BYTES, 'segment header');
  const segmentId = readU64(buf, at + 8);
  if (segmentId < 0) throw corruptHeader('segment header: segment id beyond 2^53');
  return { segmentId, logId: buf.readUInt32LE(at + 16) };
}
