// The byte layout of a run and of its block records, in one place (prose spec:
// schemas/RUN_FORMAT.md). A run is what the server writes into a segment file
// for one partition at one flush, and what a UCX reader fetches raw out of the
// server's segment memory, so both sides read it through these functions:
// the server's segment log (shuffle-server/src/store/, which keeps the segment
// header) and run-parser.ts. Written values never change meaning; a layout change
// is a new format version.
//
// All integers are little-endian. Each header ends with a CRC32C of its own bytes
// before the CRC field, so a header is trusted before any length in it is used.
//
// Run header, 32 bytes; the blocks of the run follow it back to back:
//   0  u32  magic 'PRUN'
//   4  u16  format version (1)
//   6  u16  header bytes (32)
//   8  u32  partition
//  12  u32  block count
//  16  u64  run bytes, this header included
//  24  u32  reserved, 0
//  28  u32  CRC32C of bytes 0..28
//
// Block record header, 48 bytes; the block's stored bytes follow it:
//   0  u32  magic 'PBLK'
//   4  u8   format version (1)
//   5  u8   codec (Codec enum of the wire schema)
//   6  u16  header bytes (48)
//   8  u64  attempt
//  16  u32  map id
//  20  u32  partition (equals the run's; a second witness against misplaced reads)
//  24  u32  batch
//  28  u32  seq
//  32  u32  raw length
//  36  u32  stored length (bytes of data following this header)
//  40  u32  CRC32C of the stored bytes (the writer's, checked by readers, not here)
//  44  u32  CRC32C of bytes 0..44
import assert from 'node:assert/strict';

import { checkCrc, checkPrefix, corruptHeader, isU32, isU64, readU64, sealCrc, writeU64 } from './header-fields.js';
import { BLOCK_BYTES_MAX } from './limits.js';
import { Codec, type BlockHeader } from './messages.js';

/**
 * Format version written in run headers and block record headers. It is the
 * segment format's version (SEGMENT_FORMAT.md): version 1 of segment files holds
 * version 1 runs.
 */
export const RUN_FORMAT_VERSION = 1;

export const RUN_HEADER_BYTES = 32;
export const BLOCK_HEADER_BYTES = 48;

/** Magic numbers: four ASCII letters read as a little-endian u32, so a hex dump shows the letters. */
export const RUN_MAGIC = Buffer.from('PRUN', 'latin1').readUInt32LE(0);
export const BLOCK_MAGIC = Buffer.from('PBLK', 'latin1').readUInt32LE(0);


export interface RunHeader {
  partition: number;
  blockCount: number;
  /** Bytes of the run, this header included. */
  runBytes: number;
}

/** One block of a run: its header and its stored bytes. */
export interface RunBlock {
  header: BlockHeader;
  /** The block's stored (possibly compressed) bytes. */
  data: Buffer;
}

/** The blocks of one partition written as one run, in order. */
export interface RunBlocks {
  partition: number;
  blocks: readonly RunBlock[];
}


// ---- run header ----

export function encodeRunHeader(buf: Buffer, at: number, h: RunHeader): void {
  assert(isU32(h.partition), `partition ${h.partition} not a u32`);
  assert(isU32(h.blockCount) && h.blockCount >= 1, `run block count ${h.blockCount} not in 1..u32`);
  assert(isU64(h.runBytes), `run bytes ${h.runBytes} not a u64 safe integer`);
  assert(h.runBytes >= RUN_HEADER_BYTES + h.blockCount * BLOCK_HEADER_BYTES, `run bytes ${h.runBytes} too small for ${h.blockCount} blocks`);
  assert(buf.length >= at + RUN_HEADER_BYTES, 'run header does not fit');
  buf.writeUInt32LE(RUN_MAGIC, at);
  buf.writeUInt16LE(RUN_FORMAT_VERSION, at + 4);
  buf.writeUInt16LE(RUN_HEADER_BYTES, at + 6);
  buf.writeUInt32LE(h.partition, at + 8);
  buf.writeUInt32LE(h.blockCount, at + 12);
  writeU64(buf, h.runBytes, at + 16);
  buf.writeUInt32LE(0, at + 24);
  sealCrc(buf, at, RUN_HEADER_BYTES);
}

/** Decodes and validates a run header; throws CORRUPT_DATA (without location: the caller adds it). */
export function decodeRunHeader(buf: Buffer, at: number): RunHeader {
  if (buf.length < at + RUN_HEADER_BYTES) throw corruptHeader(`run header: only ${buf.length - at} bytes`);
  checkPrefix(buf, at, RUN_MAGIC, buf.readUInt16LE(at + 4), RUN_FORMAT_VERSION, RUN_HEADER_BYTES, 'run header');
  checkCrc(buf, at, RUN_HEADER_BYTES, 'run header');
  const h: RunHeader = {
    partition: buf.readUInt32LE(at + 8),
    blockCount: buf.readUInt32LE(at + 12),
    runBytes: readU64(buf, at + 16),
  };
  if (h.runBytes < RUN_HEADER_BYTES + h.blockCount * BLOCK_HEADER_BYTES) {
    throw corruptHeader(`run header: run bytes ${h.runBytes} too small for ${h.blockCount} blocks`);
  }
  return h;
}

// ---- block record header ----

/** Asserts that a block handed to a writer is well formed and belongs to `partition`. */
export function checkBlockForWrite(block: RunBlock, partition: number): void {
  const h = block.header;
  if (h.partition !== partition) assert.fail(`block of partition ${h.partition} in a run of partition ${partition}`);
  if (h.storedLength !== block.data.length) assert.fail(`block storedLength ${h.storedLength} != data bytes ${block.data.length}`);
  if (!isU32(h.storedLength) || h.storedLength > BLOCK_BYTES_MAX) assert.fail(`block storedLength ${h.storedLength} > ${BLOCK_BYTES_MAX}`);
  if (!isU32(h.rawLength) || h.rawLength > BLOCK_BYTES_MAX) assert.fail(`block rawLength ${h.rawLength} > ${BLOCK_BYTES_MAX}`);
  if (!isU64(h.attempt)) assert.fail(`block attempt ${h.attempt} not a safe u64`);
  if (!isU32(h.mapId) || !isU32(h.batch) || !isU32(h.seq) || !isU32(h.crc32c)) {
    assert.fail(`block ids not u32: map ${h.mapId} batch ${h.batch} seq ${h.seq} crc ${h.crc32c}`);
  }
  if (Codec[h.codec] === undefined) assert.fail(`block codec ${String(h.codec)} unknown`);
}

export function encodeBlockHeader(buf: Buffer, at: number, h: BlockHeader): void {
  buf.writeUInt32LE(BLOCK_MAGIC, at);
  buf.writeUInt8(RUN_FORMAT_VERSION, at + 4);
  buf.writeUInt8(h.codec, at + 5);
  buf.writeUInt16LE(BLOCK_HEADER_BYTES, at + 6);
  writeU64(buf, h.attempt, at + 8);
  buf.writeUInt32LE(h.mapId, at + 16);
  buf.writeUInt32LE(h.partition, at + 20);
  buf.writeUInt32LE(h.batch, at + 24);
  buf.writeUInt32LE(h.seq, at + 28);
  buf.writeUInt32LE(h.rawLength, at + 32);
  buf.writeUInt32LE(h.storedLength, at + 36);
  buf.writeUInt32LE(h.crc32c, at + 40);
  sealCrc(buf, at, BLOCK_HEADER_BYTES);
}

/**
 * Decodes and validates a block record header (not its data CRC); throws
 * CORRUPT_DATA. `headerCrcChecked`: the caller has already matched a CRC32C
 * covering this header (the run's, against its index row), so the header's own
 * CRC32C is not computed again; every other check still runs.
 */
export function decodeBlockHeader(buf: Buffer, at: number, headerCrcChecked = false): BlockHeader {
  if (buf.length < at + BLOCK_HEADER_BYTES) throw corruptHeader(`block header: only ${buf.length - at} bytes`);
  checkPrefix(buf, at, BLOCK_MAGIC, buf.readUInt8(at + 4), RUN_FORMAT_VERSION, BLOCK_HEADER_BYTES, 'block header');
  if (!headerCrcChecked) checkCrc(buf, at, BLOCK_HEADER_BYTES, 'block header');
  const codec = buf.readUInt8(at + 5);
  if (Codec[codec] === undefined) throw corruptHeader(`block header: unknown codec ${codec}`);
  const attempt = readU64(buf, at + 8);
  if (attempt < 0) throw corruptHeader('block header: attempt beyond 2^53');
  const h: BlockHeader = {
    attempt,
    mapId: buf.readUInt32LE(at + 16),
    partition: buf.readUInt32LE(at + 20),
    batch: buf.readUInt32LE(at + 24),
    seq: buf.readUInt32LE(at + 28),
    rawLength: buf.readUInt32LE(at + 32),
    storedLength: buf.readUInt32LE(at + 36),
    crc32c: buf.readUInt32LE(at + 40),
    codec: codec as Codec,
  };
  if (h.storedLength > BLOCK_BYTES_MAX) throw corruptHeader(`block header: stored length ${h.storedLength} > ${BLOCK_BYTES_MAX}`);
  if (h.rawLength > BLOCK_BYTES_MAX) throw corruptHeader(`block header: raw length ${h.rawLength} > ${BLOCK_BYTES_MAX}`);
  return h;
}

// ---- whole runs ----

/** Bytes the run takes, headers included; asserts every block on the way. */
export function runBytesOf(run: RunBlocks): number {
  assert(isU32(run.partition), `partition ${run.partition} not a u32`);
  assert(run.blocks.length >= 1, `run of partition ${run.partition} has no blocks`);
  let bytes = RUN_HEADER_BYTES;
  for (const block of run.blocks) {
    checkBlockForWrite(block, run.partition);
    bytes += BLOCK_HEADER_BYTES + block.data.length;
  }
  return bytes;
}

/**
 * The bytes of a whole run in one buffer: its header, then each block record.
 * Writers that gather header and data buffers (writev) encode the headers
 * themselves; this is for tests, fixtures and test vectors.
 */
export function encodeRun(run: RunBlocks): Buffer {
  const runBytes = runBytesOf(run);
  const out = Buffer.alloc(runBytes);
  encodeRunHeader(out, 0, { partition: run.partition, blockCount: run.blocks.length, runBytes });
  let at = RUN_HEADER_BYTES;
  for (const b of run.blocks) {
    encodeBlockHeader(out, at, b.header);
    b.data.copy(out, at + BLOCK_HEADER_BYTES);
    at += BLOCK_HEADER_BYTES + b.data.length;
  }
  assert(at === runBytes);
  return out;
}
