// Records inside a block. Pegasus treats records as opaque byte strings; the
// raw (uncompressed) bytes of a block are a sequence of
//
//   offset  size  field
//   0       4     length L, u32 little-endian
//   4       L     the record's bytes
//
// repeated until the block ends exactly. A block never splits a record, so a
// record is at most BLOCK_BYTES_MAX - 4 bytes. The server never looks inside
// blocks: only writers and readers use this layout.
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import { BLOCK_BYTES_MAX } from '../../schemas/ts/limits.js';

/** Bytes of the length prefix in front of every record. */
export const RECORD_LENGTH_BYTES = 4;
/** Largest record any block can hold. */
export const RECORD_BYTES_MAX = BLOCK_BYTES_MAX - RECORD_LENGTH_BYTES;

/** Bytes a record of `recordBytes` takes inside a block. */
export function encodedRecordBytes(recordBytes: number): number {
  return RECORD_LENGTH_BYTES + recordBytes;
}

/**
 * Writes one record at `offset` of `target` and returns the offset after it.
 * The caller has checked that it fits (this is the writer's hot path).
 */
export function writeRecord(target: Buffer, offset: number, record: Uint8Array): number {
  target.writeUInt32LE(record.length, offset);
  const start = offset + RECORD_LENGTH_BYTES;
  // For short records a byte loop beats TypedArray.set, whose per-call cost
  // dominates below a few dozen bytes.
  if (record.length <= 32) {
    for (let i = 0; i < record.length; i++) target[start + i] = record[i]!;
  } else {
    target.set(record, start);
  }
  return start + record.length;
}

/** Encodes records into the raw bytes of one block. */
export function encodeRecords(records: readonly Uint8Array[]): Buffer {
  let bytes = 0;
  for (const r of records) bytes += encodedRecordBytes(r.length);
  const out = Buffer.allocUnsafe(bytes);
  let pos = 0;
  for (const r of records) pos = writeRecord(out, pos, r);
  return out;
}

function corrupt(raw: Buffer, offset: number, what: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, `record at offset ${offset} of a ${raw.length}-byte block: ${what}`);
}

/**
 * Calls `fn` for each record of a block's raw bytes, in order, and returns the
 * record count. Records are views of `raw`, not copies. Throws CORRUPT_DATA if
 * a length runs past the end or bytes are left over; records before the bad
 * one have then already been passed to `fn`, so callers that must not see
 * partial blocks use decodeRecords().
 */
export function forEachRecord(raw: Buffer, fn: (record: Buffer) => void): number {
  let pos = 0;
  let count = 0;
  while (pos < raw.length) {
    if (pos + RECORD_LENGTH_BYTES > raw.length) {
      throw corrupt(raw, pos, `${raw.length - pos} trailing bytes are shorter than a length prefix`);
    }
    const len = raw.readUInt32LE(pos);
    const start = pos + RECORD_LENGTH_BYTES;
    if (len > raw.length - start) throw corrupt(raw, pos, `length ${len} runs past the end (${raw.length - start} bytes left)`);
    fn(raw.subarray(start, start + len));
    pos = start + len;
    count++;
  }
  return count;
}

/** Decodes all records of a block (views of `raw`); throws CORRUPT_DATA before returning any if the block is bad. */
export function decodeRecords(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  forEachRecord(raw, (r) => out.push(r));
  return out;
}
