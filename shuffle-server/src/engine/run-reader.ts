// The run readers: stream the block records of indexed runs from their segment
// files. The run layout and its checks are schemas/RUN_FORMAT.md and the
// parser schemas/ts/run-parser.ts, the same one UCX readers use on runs they
// fetch themselves; this file only reads the files and feeds the parser.
//
// readRuns() serves reads over WebSocket. It pays per window what it can:
// a read of many small partitions (issue 10: 100,000 partitions, a few
// hundred bytes per run) would otherwise open, read and close a file per run
// and cross two async generators per block. It takes the runs in read order a
// window (up to windowBytes) at a time, merges the runs of the window that lie
// next to each other in one segment (one flush writes its runs in partition
// order, back to back) into one read, holds one handle per segment for the
// whole read (kept open between reads: read-handles.ts), parses each run whole (the run's CRC32C from the index
// stands for its per-header CRC32Cs) and hands each window's blocks over as
// one array. readRun() streams one run in chunks: verify, and runs larger
// than a window.
//
// Thread contract: any number of reads run at once, each on its own file
// handle, concurrently with appends; they only ever read indexed (hence
// durable, immutable) ranges.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';

import { RunParser, type RunBlock } from '../../../schemas/ts/run-parser.js';
import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';
import {
  READ_BLOCKS_PER_BATCH_MAX, READ_CHUNK_BYTES_MAX, READ_EXTENT_GAP_BYTES_MAX, READ_FILES_OPEN_MAX, READ_FIRST_WINDOW_BYTES,
} from '../limits.js';
import type { RunEntry } from './catalog/types.js';
import type { BufferPool, PooledBuffer } from './buffer-pool.js';
import { segmentReadHandles, type ReadHandle, type ReadHandleCache } from './read-handles.js';
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

/** A run to read and the file it lies in. */
export interface RunToRead {
  entry: RunEntry;
  path: string;
}

/** Runs of one window that lie in one segment close enough to read at once. */
interface Extent {
  path: string;
  offset: number;
  length: number;
  /** The bytes, once read. */
  bytes: Buffer | null;
}

/**
 * The read handles one read holds, one per segment, from the process's cache
 * (read-handles.ts). Between windows (trim()) at most READ_FILES_OPEN_MAX stay
 * held, the oldest released first; within a window as many as the window's
 * runs lie in segments, as its reads run at once.
 */
class ReadHandles {
  private readonly held = new Map<string, ReadHandle>();

  constructor(private readonly cache: ReadHandleCache) {}

  get(path: string): Promise<FileHandle> {
    let h = this.held.get(path);
    if (h === undefined) {
      h = this.cache.acquire(path);
    } else {
      this.held.delete(path); // most recently used last
    }
    this.held.set(path, h);
    return h.handle.catch((err: unknown) => {
      if (isNotFound(err)) throw new PegasusError(ErrorCode.NOT_FOUND, `segment ${path} is gone (its log removed?)`, { cause: err });
      throw ioError(err, `open segment ${path}`);
    });
  }

  trim(): void {
    for (const [path, h] of this.held) {
      if (this.held.size <= READ_FILES_OPEN_MAX) break;
      this.held.delete(path);
      this.cache.release(h);
    }
  }

  releaseAll(): void {
    for (const h of this.held.values()) this.cache.release(h);
    this.held.clear();
  }
}

export interface ReadRunsOptions {
  /**
   * Read each window into a buffer of this pool, which is read into again
   * (or given back) once the generator is resumed: a window's blocks are then valid only until the
   * caller asks for the next window (or ends the read). For callers that hand
   * a window's bytes on before asking for more (the WebSocket read stream).
   * Without it, blocks view buffers of their own, valid for as long as kept.
   */
  reuseWindows?: BufferPool;
  cache?: ReadHandleCache;
}

/**
 * Streams the blocks of `runs`, in that order, one array per window of up to
 * `windowBytes` of runs (a run larger than that is streamed in chunks of
 * `windowBytes`, in arrays per chunk). A window reads its runs and at most
 * windowBytes of gaps between them. The first window holds up to
 * READ_FIRST_WINDOW_BYTES of runs (or its first run), each next one twice as
 * much, up to windowBytes: a reader's first blocks wait for one small read, not
 * for a whole window. How long blocks stay valid: ReadRunsOptions.reuseWindows.
 * Validates every run's shape and headers, not block data CRCs (the reader's).
 */
export async function* readRuns(
  runs: readonly RunToRead[], windowBytes: number, opts: ReadRunsOptions = {},
): AsyncGenerator<StoredBlock[]> {
  if (!Number.isSafeInteger(windowBytes) || windowBytes < 1 || windowBytes > READ_CHUNK_BYTES_MAX) {
    assert.fail(`windowBytes ${windowBytes} not in 1..${READ_CHUNK_BYTES_MAX}`);
  }
  const handles = new ReadHandles(opts.cache ?? segmentReadHandles);
  const pool = opts.reuseWindows;
  /** With reuseWindows: the buffer the current window is read into. */
  let scratch: PooledBuffer | null = null;
  let window = Math.min(windowBytes, READ_FIRST_WINDOW_BYTES);
  try {
    for (let i = 0; i < runs.length;) {
      const first = runs[i]!;
      if (first.entry.length > windowBytes) {
        // Alone and in chunks; a chunk's blocks view a buffer reused for the
        // next chunk, so they are copied out (large blocks: few copies).
        // A batch holds at most a window's bytes (plus one block).
        let batch: StoredBlock[] = [];
        let batchBytes = 0;
        for await (const b of readRun(first.path, first.entry, windowBytes)) {
          batch.push({ header: b.header, data: Buffer.from(b.data) });
          batchBytes += b.data.length;
          if (batchBytes >= windowBytes || batch.length >= READ_BLOCKS_PER_BATCH_MAX) {
            yield batch;
            batch = [];
            batchBytes = 0;
          }
        }
        if (batch.length > 0) yield batch;
        i++;
        continue;
      }
      let end = i;
      let bytes = 0;
      // The first windows are smaller (READ_FIRST_WINDOW_BYTES, doubling up to
      // windowBytes), so that the first blocks go out before a whole window is read.
      while (end < runs.length && runs[end]!.entry.length <= windowBytes && (end === i || bytes + runs[end]!.entry.length <= window)) {
        bytes += runs[end]!.entry.length;
        end++;
      }
      const windowRuns = runs.slice(i, end);
      i = end;
      const { extents, extentOf } = planExtents(windowRuns, window);
      window = Math.min(windowBytes, 2 * window);
      if (pool !== undefined) {
        const total = extents.reduce((a, x) => a + x.length, 0);
        if (scratch === null || scratch.bytes.length < total) {
          if (scratch !== null) pool.release(scratch);
          scratch = null; // not held if take() throws
          scratch = pool.take(total);
        }
        let at = 0;
        for (const x of extents) {
          x.bytes = scratch.bytes.subarray(at, at + x.length);
          at += x.length;
        }
      } else {
        for (const x of extents) x.bytes = Buffer.allocUnsafe(x.length);
      }
      // Every read settles before a failure goes on: none may still be writing
      // into a buffer given back to the pool.
      const reads = await Promise.allSettled(extents.map(async (x) => {
        const got = await readFully(await handles.get(x.path), x.path, x.bytes!, x.length, x.offset);
        if (got < x.length) {
          throw corruptAt(x.path, x.offset + got, new Error(`the file ends inside a run: ${x.length - got} bytes of a read of ${x.length} are missing`));
        }
      }));
      const failed = reads.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      handles.trim();
      const out: StoredBlock[] = [];
      for (let k = 0; k < windowRuns.length; k++) {
        const { entry, path } = windowRuns[k]!;
        const x = extents[extentOf[k]!]!;
        const at = entry.offset - x.offset;
        for (const b of parseRunAt(path, entry, x.bytes!.subarray(at, at + entry.length))) out.push(b);
      }
      yield out;
    }
  } finally {
    handles.releaseAll();
    if (scratch !== null) pool!.release(scratch);
  }
}

/**
 * Groups a window's runs into extents: same file, at most
 * READ_EXTENT_GAP_BYTES_MAX apart, and at most `gapBytesMax` of gaps read in
 * all, so a window's buffers hold at most its runs plus that.
 */
function planExtents(window: readonly RunToRead[], gapBytesMax: number): { extents: Extent[]; extentOf: number[] } {
  const order = window.map((_, k) => k);
  order.sort((a, b) => {
    const ra = window[a]!;
    const rb = window[b]!;
    return ra.path < rb.path ? -1 : ra.path > rb.path ? 1 : ra.entry.offset - rb.entry.offset;
  });
  const extents: Extent[] = [];
  const extentOf = new Array<number>(window.length);
  let last: Extent | undefined;
  let gapBytes = 0;
  for (const k of order) {
    const { entry, path } = window[k]!;
    if (entry.offset < SEGMENT_HEADER_BYTES) {
      throw corruptAt(path, entry.offset, new Error(`index run entry impossible: offset ${entry.offset} inside the segment header`));
    }
    const lastEnd = last === undefined ? 0 : last.offset + last.length;
    const gap = Math.max(0, entry.offset - lastEnd);
    if (last !== undefined && last.path === path && entry.offset >= last.offset && gap <= READ_EXTENT_GAP_BYTES_MAX && gapBytes + gap <= gapBytesMax) {
      gapBytes += gap;
      last.length = Math.max(lastEnd, entry.offset + entry.length) - last.offset;
    } else {
      last = { path, offset: entry.offset, length: entry.length, bytes: null };
      extents.push(last);
    }
    extentOf[k] = extents.length - 1;
  }
  return { extents, extentOf };
}

/** The blocks of one run whose bytes are all in `bytes`. */
function parseRunAt(path: string, entry: RunEntry, bytes: Buffer): RunBlock[] {
  let parser: RunParser;
  try {
    parser = new RunParser(entry, 'file read');
  } catch (err) {
    throw corruptAt(path, entry.offset, err);
  }
  try {
    return parser.parseWhole(bytes, false);
  } catch (err) {
    throw err instanceof PegasusError && err.wireCode === ErrorCode.CORRUPT_DATA ? corruptAt(path, entry.offset + parser.consumedBytes, err) : err;
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
