// The append-only log of one shuffle: a sequence of segment files, each a segment
// header followed by runs (layout: SEGMENT_FORMAT.md, constants: segment-format.ts).
//
// Durability contract: appendRuns() returns only after the written bytes are
// fdatasync'ed (and the directory entry of a new file fsync'ed). The caller then
// writes the returned RunEntry/SegmentEntry rows to the index; bytes past a
// segment's indexed durableBytes are a torn tail and are cut off by open().
//
// Thread contract: appendRuns() is serialized by the caller (one flush at a time);
// readRun() may run at any time, concurrently with appends and other reads, on its
// own file handle, and only ever reads indexed (hence durable, immutable) ranges.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { checkAppId } from '../../../schemas/ts/ids.js';
import type { RunEntry, SegmentEntry } from '../index/types.js';
import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';
import { RunCursor, corruptAt } from './run-cursor.js';
import { READ_CHUNK_BYTES_MAX, SEGMENT_BYTES_MAX } from '../limits.js';
import {
  BLOCK_HEADER_BYTES,
  RUN_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  decodeBlockHeader,
  decodeRunHeader,
  decodeSegmentHeader,
  encodeBlockHeader,
  encodeRunHeader,
  encodeSegmentHeader,
  runBytesOf,
} from './segment-format.js';
import {
  appDir,
  parseSegmentFileName,
  segmentFileName,
  shuffleDir,
  shufflesRoot,
} from './segment-names.js';
import type { PendingRun, StoredBlock } from './types.js';

type FileHandle = fsp.FileHandle;

export interface SegmentLogOptions {
  dataDir: string;
  appId: string;
  shuffleId: number;
  segmentBytesMax: number;
}

interface Segment {
  readonly id: number;
  /** Bytes written and fdatasync'ed; the file's size while the log is healthy. */
  durableBytes: number;
  /** No more appends go here. */
  sealed: boolean;
  /** Write handle; open only for the active segment. */
  handle: FileHandle | null;
}

/** What one appendRuns() call writes into one segment. */
interface SegmentWrite {
  segment: Segment;
  isNew: boolean;
  /** File offset of the first byte written: the segment's durableBytes before the call. */
  position: number;
  buffers: Buffer[];
  bytes: number;
  /** The segment is full after this write (or the next run does not fit). */
  sealAfter: boolean;
}


/** Makes a directory's entries (new or removed files) durable. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    throw ioError(err, `fsync directory ${dir}`);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** pwritev until every byte is written; libuv may return a short count before reporting an error. */
async function writeAll(fh: FileHandle, buffers: Buffer[], position: number, bytes: number): Promise<void> {
  let pending = buffers;
  let pos = position;
  let left = bytes;
  while (left > 0) {
    const { bytesWritten } = await fh.writev(pending, pos);
    if (bytesWritten <= 0) throw new Error(`writev wrote ${bytesWritten} of ${left} bytes at ${pos}`);
    pos += bytesWritten;
    left -= bytesWritten;
    if (left === 0) break;
    let skip = bytesWritten;
    let i = 0;
    while (skip >= pending[i]!.length) skip -= pending[i++]!.length;
    pending = [pending[i]!.subarray(skip), ...pending.slice(i + 1)];
  }
}

/**
 * The segment files of one shuffle, `<dataDir>/shuffles/<appId>/<shuffleId>/*.seg`.
 * At most one segment (the active one) is open for writing; all others are sealed.
 */
export class SegmentLog {
  private readonly segments = new Map<number, Segment>();
  private active: Segment | null = null;
  private nextSegmentId: number;
  private bytesOnDisk = 0;
  private inFlight: Promise<void> | null = null;
  private closed: Promise<void> | null = null;

  private constructor(
    private readonly opts: SegmentLogOptions,
    private readonly dir: string,
    known: Segment[],
    /** Bytes cut off torn segment tails at open. */
    readonly recoveredTornBytes: number,
    /** Segment files found without an index entry and deleted at open. */
    readonly deletedUnindexedSegments: number,
  ) {
    let maxId = -1;
    for (const s of known) {
      this.segments.set(s.id, s);
      this.bytesOnDisk += s.durableBytes;
      maxId = Math.max(maxId, s.id);
    }
    this.nextSegmentId = maxId + 1;
  }

  static async open(opts: SegmentLogOptions, known: SegmentEntry[]): Promise<SegmentLog> {
    checkAppId(opts.appId);
    const max = opts.segmentBytesMax;
    if (!Number.isSafeInteger(max) || max <= SEGMENT_HEADER_BYTES || max > SEGMENT_BYTES_MAX) {
      assert.fail(`segmentBytesMax ${max} not in ${SEGMENT_HEADER_BYTES + 1}..${SEGMENT_BYTES_MAX}`);
    }
    const dir = shuffleDir(opts.dataDir, opts.appId, opts.shuffleId);
    try {
      const created = await fsp.mkdir(dir, { recursive: true });
      // New directory entries are not durable until their parents are fsync'ed.
      if (created !== undefined) {
        for (const d of [opts.dataDir, shufflesRoot(opts.dataDir), appDir(opts.dataDir, opts.appId)]) await fsyncDir(d);
      }
    } catch (err) {
      throw ioError(err, `create shuffle directory ${dir}`);
    }

    const byId = new Map<number, SegmentEntry>();
    for (const e of known) {
      if (byId.has(e.segmentId)) assert.fail(`segment ${e.segmentId} listed twice for ${opts.appId}/${opts.shuffleId}`);
      byId.set(e.segmentId, e);
    }

    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (err) {
      throw ioError(err, `list shuffle directory ${dir}`);
    }
    let tornBytes = 0;
    let deleted = 0;
    const found = new Set<number>();
    for (const name of names) {
      const id = parseSegmentFileName(name);
      if (id === null) continue; // not ours: leave foreign files alone
      const path = join(dir, name);
      const entry = byId.get(id);
      if (entry === undefined) {
        // Never indexed, so never durable: a flush that crashed before its index write.
        try {
          await fsp.rm(path, { force: true });
        } catch (err) {
          throw ioError(err, `delete unindexed segment ${path}`);
        }
        deleted++;
        continue;
      }
      found.add(id);
      tornBytes += await SegmentLog.recoverSegment(path, entry, opts.shuffleId);
    }
    for (const e of known) {
      if (!found.has(e.segmentId)) {
        throw new PegasusError(
          ErrorCode.CORRUPT_DATA,
          `segment ${join(dir, segmentFileName(e.segmentId))} is indexed with ${e.durableBytes} durable bytes but its file is missing`,
        );
      }
    }
    if (deleted > 0) await fsyncDir(dir);
    // Every existing segment is sealed: its tail may have been cut, and appending
    // after a restart into a fresh file keeps recovery a pure truncation.
    const segments = known.map((e): Segment => ({ id: e.segmentId, durableBytes: e.durableBytes, sealed: true, handle: null }));
    return new SegmentLog(opts, dir, segments, tornBytes, deleted);
  }

  /** Validates an indexed segment file and cuts it to durableBytes; returns the bytes cut. */
  private static async recoverSegment(path: string, entry: SegmentEntry, shuffleId: number): Promise<number> {
    if (!Number.isSafeInteger(entry.durableBytes) || entry.durableBytes < SEGMENT_HEADER_BYTES) {
      throw new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path}: indexed durable bytes ${entry.durableBytes} < header ${SEGMENT_HEADER_BYTES}`);
    }
    let fh: FileHandle | undefined;
    try {
      fh = await fsp.open(path, 'r+');
      const { size } = await fh.stat();
      if (size < entry.durableBytes) {
        throw new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path}: file has ${size} bytes, index says ${entry.durableBytes} are durable`);
      }
      const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const { bytesRead } = await fh.read(head, 0, SEGMENT_HEADER_BYTES, 0);
      let header;
      try {
        if (bytesRead !== SEGMENT_HEADER_BYTES) throw new Error(`read ${bytesRead} header bytes`);
        header = decodeSegmentHeader(head, 0);
      } catch (err) {
        throw corruptAt(path, 0, err);
      }
      if (header.segmentId !== entry.segmentId || header.shuffleId !== shuffleId) {
        throw corruptAt(path, 0, new Error(`header names segment ${header.segmentId} of shuffle ${header.shuffleId}, expected ${entry.segmentId} of ${shuffleId}`));
      }
      if (size === entry.durableBytes) return 0;
      await fh.truncate(entry.durableBytes);
      await fh.datasync();
      return size - entry.durableBytes;
    } catch (err) {
      throw ioError(err, `recover segment ${path}`);
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  /** Bytes on disk over all segments of this shuffle. */
  diskBytes(): number {
    return this.bytesOnDisk;
  }

  async appendRuns(runs: PendingRun[]): Promise<{ runs: RunEntry[]; segments: SegmentEntry[] }> {
    if (this.closed !== null) {
      throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `segment log of ${this.opts.appId}/${this.opts.shuffleId} is closed`);
    }
    assert(this.inFlight === null, 'appendRuns called concurrently');
    const work = this.append(runs);
    this.inFlight = work.then(() => undefined, () => undefined);
    try {
      return await work;
    } finally {
      this.inFlight = null;
    }
  }

  private async append(runs: PendingRun[]): Promise<{ runs: RunEntry[]; segments: SegmentEntry[] }> {
    if (runs.length === 0) return { runs: [], segments: [] };
    const { writes, entries } = this.plan(runs);
    try {
      for (const w of writes) {
        if (w.bytes === 0) continue;
        const path = this.pathOf(w.segment.id);
        if (w.isNew) {
          try {
            w.segment.handle = await fsp.open(path, 'wx');
          } catch (err) {
            throw ioError(err, `create segment ${path}`);
          }
        }
        const fh = w.segment.handle;
        assert(fh !== null, `segment ${path} has no write handle`);
        try {
          await writeAll(fh, w.buffers, w.position, w.bytes);
          await fh.datasync();
        } catch (err) {
          throw ioError(err, `append ${w.bytes} bytes to segment ${path} at ${w.position}`);
        }
      }
      if (writes.some((w) => w.isNew)) await fsyncDir(this.dir);
    } catch (err) {
      await this.rollback(writes);
      throw err;
    }

    const segments: SegmentEntry[] = [];
    for (const w of writes) {
      const s = w.segment;
      s.durableBytes = w.position + w.bytes;
      this.bytesOnDisk += w.bytes;
      if (w.isNew) this.segments.set(s.id, s);
      if (w.sealAfter) {
        s.sealed = true;
        const fh = s.handle;
        s.handle = null;
        // The bytes are already synced; a failing close loses nothing.
        await fh?.close().catch(() => undefined);
      }
      segments.push({ segmentId: s.id, durableBytes: s.durableBytes, sealed: s.sealed });
    }
    const last = writes[writes.length - 1]!.segment;
    this.active = last.sealed ? null : last;
    return { runs: entries, segments };
  }

  /** Lays the runs out over the active segment and new ones; encodes every header. Synchronous. */
  private plan(runs: PendingRun[]): { writes: SegmentWrite[]; entries: RunEntry[] } {
    const max = this.opts.segmentBytesMax;
    const writes: SegmentWrite[] = [];
    const entries: RunEntry[] = [];
    let current: SegmentWrite | null = null;
    if (this.active !== null) {
      assert(!this.active.sealed && this.active.handle !== null, 'active segment sealed or closed');
      current = { segment: this.active, isNew: false, position: this.active.durableBytes, buffers: [], bytes: 0, sealAfter: false };
      writes.push(current);
    }
    for (const run of runs) {
      const runBytes = runBytesOf(run);
      if (current !== null) {
        const size = current.position + current.bytes;
        // A run is never split; it starts a new segment unless it would be the first run of this one.
        if (size > SEGMENT_HEADER_BYTES && size + runBytes > max) {
          current.sealAfter = true;
          current = null;
        }
      }
      if (current === null) {
        // Ids are taken now and never given back, even if the write fails: a failed
        // file may linger until the next open deletes it.
        const segment: Segment = { id: this.nextSegmentId++, durableBytes: 0, sealed: false, handle: null };
        const header = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
        encodeSegmentHeader(header, 0, { segmentId: segment.id, shuffleId: this.opts.shuffleId });
        current = { segment, isNew: true, position: 0, buffers: [header], bytes: SEGMENT_HEADER_BYTES, sealAfter: false };
        writes.push(current);
      }
      const offset = current.position + current.bytes;
      entries.push(this.encodeRun(run, runBytes, current.buffers, current.segment.id, offset));
      current.bytes += runBytes;
      if (current.position + current.bytes >= max) {
        current.sealAfter = true;
        current = null;
      }
    }
    return { writes, entries };
  }

  /** Appends the run's header, block headers and data to `buffers`; returns its index row. */
  private encodeRun(run: PendingRun, runBytes: number, buffers: Buffer[], segmentId: number, offset: number): RunEntry {
    const headers = Buffer.allocUnsafe(RUN_HEADER_BYTES + run.blocks.length * BLOCK_HEADER_BYTES);
    encodeRunHeader(headers, 0, { partition: run.partition, blockCount: run.blocks.length, runBytes });
    buffers.push(headers.subarray(0, RUN_HEADER_BYTES));
    let at = RUN_HEADER_BYTES;
    let mapMin = Number.MAX_SAFE_INTEGER;
    let mapMax = -1;
    for (const block of run.blocks) {
      encodeBlockHeader(headers, at, block.header);
      buffers.push(headers.subarray(at, at + BLOCK_HEADER_BYTES));
      if (block.data.length > 0) buffers.push(block.data);
      at += BLOCK_HEADER_BYTES;
      mapMin = Math.min(mapMin, block.header.mapId);
      mapMax = Math.max(mapMax, block.header.mapId);
    }
    return { partition: run.partition, segmentId, offset, length: runBytes, blockCount: run.blocks.length, mapMin, mapMax };
  }

  /** Undoes a failed append as far as possible; what it cannot undo, open() will. */
  private async rollback(writes: SegmentWrite[]): Promise<void> {
    for (const w of writes) {
      const s = w.segment;
      if (w.isNew) {
        const fh = s.handle;
        s.handle = null;
        await fh?.close().catch(() => undefined);
        // Unindexed, so harmless if the unlink fails: the next open deletes it.
        await fsp.rm(this.pathOf(s.id), { force: true }).catch(() => undefined);
        continue;
      }
      if (w.bytes === 0 || s.handle === null) continue;
      try {
        await s.handle.truncate(w.position);
      } catch {
        // The tail past durableBytes stays; stop appending here so no index row
        // ever covers it, and let open() cut it.
        s.sealed = true;
        const fh = s.handle;
        s.handle = null;
        await fh.close().catch(() => undefined);
        if (this.active === s) this.active = null;
      }
    }
  }

  /**
   * Streams the blocks of one run. Each block's `data` is a view valid until the
   * next block is requested. Validates headers, not block data CRCs.
   */
  async *readRun(entry: RunEntry, chunkBytes: number): AsyncGenerator<StoredBlock> {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > READ_CHUNK_BYTES_MAX) {
      assert.fail(`chunkBytes ${chunkBytes} not in 1..${READ_CHUNK_BYTES_MAX}`);
    }
    const path = this.pathOf(entry.segmentId);
    if (entry.offset < SEGMENT_HEADER_BYTES || entry.length < RUN_HEADER_BYTES + entry.blockCount * BLOCK_HEADER_BYTES) {
      throw corruptAt(path, entry.offset, new Error(`index run entry impossible: length ${entry.length}, ${entry.blockCount} blocks`));
    }
    let fh: FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) {
        throw new PegasusError(ErrorCode.NOT_FOUND, `segment ${path} is gone (shuffle ${this.opts.appId}/${this.opts.shuffleId} removed?)`, { cause: err });
      }
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

  /**
   * Seals the active segment after any append in flight, so that every indexed
   * byte is in a sealed, immutable file (the UCX read path maps and registers
   * only sealed segments). The next append starts a new segment.
   */
  async sealActive(): Promise<void> {
    await this.inFlight;
    const s = this.active;
    if (s === null) return;
    this.active = null;
    s.sealed = true;
    const fh = s.handle;
    s.handle = null;
    // The bytes are already synced; a failing close loses nothing.
    await fh?.close().catch(() => undefined);
  }

  /** Whether a segment exists and is sealed; its durable length. */
  segmentState(segmentId: number): { sealed: boolean; durableBytes: number } | null {
    const s = this.segments.get(segmentId);
    return s === undefined ? null : { sealed: s.sealed, durableBytes: s.durableBytes };
  }

  /** The file of a segment. */
  segmentPath(segmentId: number): string {
    return this.pathOf(segmentId);
  }

  /** Closes file handles after any append in flight; idempotent. Reads keep their own handles. */
  close(): Promise<void> {
    if (this.closed === null) {
      this.closed = (async () => {
        await this.inFlight;
        const s = this.active;
        this.active = null;
        if (s !== null && s.handle !== null) {
          const fh = s.handle;
          s.handle = null;
          await fh.close().catch(() => undefined);
        }
      })();
    }
    return this.closed;
  }

  /** Closes the log and removes the shuffle's directory with all its segments. */
  async remove(): Promise<void> {
    await this.close();
    try {
      await fsp.rm(this.dir, { recursive: true, force: true });
    } catch (err) {
      throw ioError(err, `remove shuffle directory ${this.dir}`);
    }
    this.segments.clear();
    this.bytesOnDisk = 0;
  }

  private pathOf(segmentId: number): string {
    return join(this.dir, segmentFileName(segmentId));
  }
}
