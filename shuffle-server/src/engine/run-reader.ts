// The one run reader: streams the block records of one indexed run from its
// segment file (layout: SEGMENT_FORMAT.md), validating every header against the
// run's catalog row. Used by every read over WebSocket and by verify.
//
// Thread contract: any number of reads run at once, each on its own file
// handle, concurrently with appends; they only ever read indexed (hence
// durable, immutable) ranges.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';

import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';
import { READ_CHUNK_BYTES_MAX } from '../limits.js';
import type { RunEntry } from './catalog/types.js';
import { RunCursor, corruptAt } from './run-cursor.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, SEGMENT_HEADER_BYTES, decodeBlockHeader, decodeRunHeader } from './segment-format.js';
import type { StoredBlock } from './types.js';

type FileHandle = fsp.FileHandle;

/**
 * Streams the blocks of one run of the segment file at `path`. Each block's
 * `data` is a view valid until the next block is requested. Validates headers,
 * not block data CRCs. `onBytes`, when given, sees every byte of the run as
 * stored, in order (the run header, then each block record: header and data)
 * before the block is yielded, so a caller can check RunEntry.crc32c without a
 * second read.
 */
export async function* readRun(path: string, entry: RunEntry, chunkBytes: number, onBytes?: (bytes: Buffer) => void): AsyncGenerator<StoredBlock> {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > READ_CHUNK_BYTES_MAX) {
    assert.fail(`chunkBytes ${chunkBytes} not in 1..${READ_CHUNK_BYTES_MAX}`);
  }
  if (entry.offset < SEGMENT_HEADER_BYTES || entry.length < RUN_HEADER_BYTES + entry.blockCount * BLOCK_HEADER_BYTES) {
    throw corruptAt(path, entry.offset, new Error(`index run entry impossible: length ${entry.length}, ${entry.blockCount} blocks`));
  }
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) throw new PegasusError(ErrorCode.NOT_FOUND, `segment ${path} is gone (its log removed?)`, { cause: err });
    throw ioError(err, `open segment ${path}`);
  }
  try {
    const runEnd = entry.offset + entry.length;
    const cursor = new RunCursor(fh, path, entry.offset, runEnd, chunkBytes);
    await cursor.need(RUN_HEADER_BYTES, 'run header');
    let run;
    try {
      run = decodeRunHeader(cursor.buffer, cursor.at);
    } catch (err) {
      throw corruptAt(path, entry.offset, err);
    }
    if (run.partition !== entry.partition || run.blockCount !== entry.blockCount || run.runBytes !== entry.length) {
      throw corruptAt(path, entry.offset, new Error(
        `run header (partition ${run.partition}, ${run.blockCount} blocks, ${run.runBytes} bytes) does not match index ` +
        `(partition ${entry.partition}, ${entry.blockCount} blocks, ${entry.length} bytes)`,
      ));
    }
    onBytes?.(cursor.buffer.subarray(cursor.at, cursor.at + RUN_HEADER_BYTES));
    cursor.consume(RUN_HEADER_BYTES);
    for (let i = 0; i < entry.blockCount; i++) {
      const blockOffset = cursor.position;
      await cursor.need(BLOCK_HEADER_BYTES, `block ${i} header`);
      let header;
      try {
        header = decodeBlockHeader(cursor.buffer, cursor.at);
      } catch (err) {
        throw corruptAt(path, blockOffset, err);
      }
      if (header.partition !== entry.partition || header.mapId < entry.mapMin || header.mapId > entry.mapMax) {
        throw corruptAt(path, blockOffset, new Error(
          `block ${i} of partition ${header.partition} map ${header.mapId} in run of partition ${entry.partition} maps ${entry.mapMin}..${entry.mapMax}`,
        ));
      }
      const recordBytes = BLOCK_HEADER_BYTES + header.storedLength;
      await cursor.need(recordBytes, `block ${i}`);
      const dataAt = cursor.at + BLOCK_HEADER_BYTES;
      const data = cursor.buffer.subarray(dataAt, dataAt + header.storedLength);
      onBytes?.(cursor.buffer.subarray(cursor.at, cursor.at + recordBytes));
      cursor.consume(recordBytes);
      yield { header, data };
    }
    if (cursor.position !== runEnd) {
      throw corruptAt(path, cursor.position, new Error(`${runEnd - cursor.position} bytes after the last of ${entry.blockCount} blocks of the run`));
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}
