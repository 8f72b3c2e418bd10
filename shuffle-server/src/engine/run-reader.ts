// The one run reader: streams the block records of one indexed run from its
// segment file. The run layout and its checks are schemas/RUN_FORMAT.md and the
// incremental parser schemas/ts/run-parser.ts, the same one UCX readers use on
// runs they fetch themselves; this file only reads the file in chunks and feeds
// them. Used by every read over WebSocket and by verify.
//
// Thread contract: any number of reads run at once, each on its own file
// handle, concurrently with appends; they only ever read indexed (hence
// durable, immutable) ranges.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';

import { RunParser } from '../../../schemas/ts/run-parser.js';
import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';
import { READ_CHUNK_BYTES_MAX } from '../limits.js';
import type { RunEntry } from './catalog/types.js';
import { SEGMENT_HEADER_BYTES } from './segment-format.js';
import type { StoredBlock } from './types.js';

type FileHandle = fsp.FileHandle;

/** CORRUPT_DATA naming the segment file and offset. */
export function corruptAt(path: string, offset: number, err: unknown): PegasusError {
  const detail = err instanceof Error ? err.message : String(err);
  return new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path} offset ${offset}: ${detail}`, { cause: err });
}

export interface ReadRunOptions {
  /** Check the CRC32C of the whole run against its row (verify); a mismatch ends the read with CHECKSUM_MISMATCH. */
  checkRunCrc?: boolean;
}

/**
 * Streams the blocks of one run of the segment file at `path`. Each block's
 * `data` is a view valid until the next block is requested. Validates every
 * header and the run's shape, not block data CRCs (the caller's).
 */
export async function* readRun(path: string, entry: RunEntry, chunkBytes: number, opts: ReadRunOptions = {}): AsyncGenerator<StoredBlock> {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > READ_CHUNK_BYTES_MAX) {
    assert.fail(`chunkBytes ${chunkBytes} not in 1..${READ_CHUNK_BYTES_MAX}`);
  }
  if (entry.offset < SEGMENT_HEADER_BYTES) {
    throw corruptAt(path, entry.offset, new Error(`index run entry impossible: offset ${entry.offset} inside the segment header`));
  }
  let parser: RunParser;
  try {
    parser = new RunParser({ ...entry, crc32c: opts.checkRunCrc === true ? entry.crc32c : null }, 'file read');
  } catch (err) {
    throw corruptAt(path, entry.offset, err);
  }
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) throw new PegasusError(ErrorCode.NOT_FOUND, `segment ${path} is gone (its log removed?)`, { cause: err });
    throw ioError(err, `open segment ${path}`);
  }
  // Parser errors name the byte of the run; ours name the file offset of the unit that failed.
  const located = (err: unknown): unknown => (
    err instanceof PegasusError && err.wireCode === ErrorCode.CORRUPT_DATA ? corruptAt(path, entry.offset + parser.consumedBytes, err) : err
  );
  try {
    const end = entry.offset + entry.length;
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, entry.length));
    for (let pos = entry.offset; pos < end;) {
      const want = Math.min(buf.length, end - pos);
      const got = await readFully(fh, path, buf, want, pos);
      let blocks;
      try {
        blocks = parser.feed(buf.subarray(0, got));
      } catch (err) {
        throw located(err);
      }
      pos += got;
      if (got < want) {
        throw corruptAt(path, pos, new Error(`the file ends inside the run: ${end - pos} of its ${entry.length} bytes are missing`));
      }
      // Blocks view `buf`: every one is handed out before `buf` is read into again.
      for (const b of blocks) yield b;
    }
    try {
      parser.finish();
    } catch (err) {
      throw located(err);
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Reads `want` bytes at `pos` unless the file ends first; returns the bytes read. */
async function readFully(fh: FileHandle, path: string, buf: Buffer, want: number, pos: number): Promise<number> {
  let got = 0;
  while (got < want) {
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, got, want - got, pos + got));
    } catch (err) {
      throw ioError(err, `read segment ${path} at ${pos + got}`);
    }
    if (n === 0) break;
    got += n;
  }
  return got;
}
