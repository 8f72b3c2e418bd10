// The append-only log named by one LogId (a tenant's stream of runs): a
// sequence of segment files, each a segment
// header followed by runs (layout: SEGMENT_FORMAT.md, constants: segment-format.ts).
//
// Segments live on ordered storage tiers (tiers.ts): a new segment is placed on
// the first tier with room when it is created, and its index row names the tier.
// A segment file is written by tier (segment-file.ts): writev + fdatasync, or,
// on a pmem tier, memcpy into a libpmem2 mapping + persist.
//
// Durability contract: appendRuns() returns only after the written bytes are
// durable (fdatasync'ed, or persisted through libpmem2) and the directory entry
// of a new file fsync'ed. The caller then
// writes the returned RunEntry/SegmentEntry rows to the index; bytes past a
// segment's indexed durableBytes are a torn tail and are cut off by open().
//
// Thread contract: appendRuns() is serialized by the caller (one flush at a time);
// readRun() may run at any time, concurrently with appends and other reads, on its
// own file handle, and only ever reads indexed (hence durable, immutable) ranges.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { crc32c, crc32cCombine } from '../../../native/ts/crc32c.js';
import type { RunEntry, SegmentEntry } from './catalog/types.js';
import { ErrorCode, PegasusError, ioError } from '../errors.js';
import { CRC_COMBINE_BYTES_MIN, RUN_ARENA_CHUNK_BYTES, SEGMENT_BYTES_MAX, SMALL_RUN_BYTES_MAX } from '../limits.js';
import { checkLogId, logName, type LogId } from './log-id.js';
import type { Durability } from './durability.js';
import { readBuffers } from './read-buffers.js';
import { segmentReadHandles } from './read-handles.js';
import { readRun, readRuns, type ReadRunOptions } from './run-reader.js';
import {
  BLOCK_HEADER_BYTES,
  RUN_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  encodeBlockHeader,
  encodeRunHeader,
  encodeSegmentHeader,
  runBytesOf,
} from './segment-format.js';
import { logDir, ownerDir, segmentFileName, tenantRoot } from './segment-names.js';
import { createSegmentFile, fsyncDir, type SegmentFile } from './segment-file.js';
import { recoverSegments } from './segment-recovery.js';
import { TierSet, type Tier } from './tiers.js';
import type { PendingRun, StoredBlock } from './types.js';

export interface SegmentLogOptions {
  /** The data directory; with no `tiers`, the one tier (tests, tools). */
  dataDir: string;
  log: LogId;
  segmentBytesMax: number;
  /** The server's storage tiers, shared by every log (placement and accounting). */
  tiers?: TierSet;
  /** Told when the log's segments are removed, so UCX mappings of them end (segment-mappings.ts). */
  onRemoved?: (log: SegmentLog) => void;
  /** The error an append to the removed log answers, in its tenant's terms (default NOT_FOUND). */
  removedError?: () => PegasusError;
  /** When appended bytes count as durable (durability.ts); default 'sync'. */
  durability?: Durability;
}

interface Segment {
  readonly id: number;
  readonly tier: Tier;
  /** Bytes written and made durable; the file's size while the log is healthy (a pmem segment's file is preallocated longer). */
  durableBytes: number;
  /** No more appends go here. */
  sealed: boolean;
  /** Write side; open only for the active segment. */
  file: SegmentFile | null;
  /** Bytes charged to the tier for it: its largest size while active, durableBytes once sealed. */
  charge: number;
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


/**
 * The segment files of one log, `<tier>/<tenant dir>/<owner>/<id>/*.seg` over
 * the storage tiers (segment-names.ts). At most one segment (the active one) is open for writing;
 * all others are sealed.
 */
export class SegmentLog {
  private readonly segments = new Map<number, Segment>();
  private active: Segment | null = null;
  private nextSegmentId: number;
  private bytesOnDisk = 0;
  private inFlight: Promise<void> | null = null;
  private closed: Promise<void> | null = null;
  private removed = false;

  /** Tiers whose log directory exists (created and its parents fsync'ed). */
  private readonly dirsReady = new Set<number>();

  private constructor(
    private readonly opts: SegmentLogOptions,
    private readonly tiers: TierSet,
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
      s.tier.usedBytes += s.durableBytes;
      s.tier.chargedBytes += s.charge;
      maxId = Math.max(maxId, s.id);
    }
    this.nextSegmentId = maxId + 1;
  }

  static async open(opts: SegmentLogOptions, known: SegmentEntry[]): Promise<SegmentLog> {
    checkLogId(opts.log);
    const max = opts.segmentBytesMax;
    if (!Number.isSafeInteger(max) || max <= SEGMENT_HEADER_BYTES || max > SEGMENT_BYTES_MAX) {
      assert.fail(`segmentBytesMax ${max} not in ${SEGMENT_HEADER_BYTES + 1}..${SEGMENT_BYTES_MAX}`);
    }
    const tiers = opts.tiers ?? TierSet.single(opts.dataDir);

    const { indexed, tornBytes, deleted, ready } = await recoverSegments(tiers, opts.log, known);
    // Every existing segment is sealed: its tail may have been cut, and appending
    // after a restart into a fresh file keeps recovery a pure truncation.
    const segments = indexed.map(({ entry, tier }): Segment => (
      { id: entry.segmentId, tier, durableBytes: entry.durableBytes, sealed: true, file: null, charge: entry.durableBytes }
    ));
    const log = new SegmentLog(opts, tiers, segments, tornBytes, deleted);
    for (const id of ready) log.dirsReady.add(id);
    // The log's directory exists from its creation on (on the first tier; on
    // others once a segment goes there), so the orphan sweep sees every log.
    await log.ensureDir(tiers.tiers[0]!);
    return log;
  }

  private get durability(): Durability {
    return this.opts.durability ?? 'sync';
  }

  /** The log's identity. */
  get id(): LogId {
    return this.opts.log;
  }

  /** Bytes on disk over all segments of this log. */
  diskBytes(): number {
    return this.bytesOnDisk;
  }

  async appendRuns(runs: PendingRun[]): Promise<{ runs: RunEntry[]; segments: SegmentEntry[] }> {
    if (this.closed !== null) {
      if (this.removed) throw this.opts.removedError?.() ?? new PegasusError(ErrorCode.NOT_FOUND, `segment log ${logName(this.opts.log)} is removed`);
      throw new PegasusError(ErrorCode.SHUTTING_DOWN, `segment log ${logName(this.opts.log)} is closed`);
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
    const newDirs = new Set<string>();
    try {
      for (const w of writes) {
        if (w.bytes === 0) continue;
        const s = w.segment;
        if (w.isNew) {
          await this.ensureDir(s.tier);
          s.file = await createSegmentFile(s.tier, this.pathOf(s), s.charge, this.durability);
          newDirs.add(this.dirOf(s.tier));
        }
        const file = s.file;
        assert(file !== null, `segment ${this.pathOf(s)} has no write handle`);
        await file.write(w.buffers, w.position, w.bytes);
      }
      if (this.durability === 'sync') for (const dir of newDirs) await fsyncDir(dir);
    } catch (err) {
      await this.rollback(writes);
      throw err;
    }

    const segments: SegmentEntry[] = [];
    for (const w of writes) {
      const s = w.segment;
      s.durableBytes = w.position + w.bytes;
      this.bytesOnDisk += w.bytes;
      s.tier.usedBytes += w.bytes;
      if (w.isNew) this.segments.set(s.id, s);
      if (w.sealAfter) await this.seal(s);
      segments.push({ segmentId: s.id, durableBytes: s.durableBytes, sealed: s.sealed, tierId: s.tier.id });
    }
    const last = writes[writes.length - 1]!.segment;
    this.active = last.sealed ? null : last;
    return { runs: entries, segments };
  }

  /** Seals a segment: no more appends; its file is closed at (cut to) its durable length and its charge shrinks to it. */
  private async seal(s: Segment): Promise<void> {
    s.sealed = true;
    const file = s.file;
    s.file = null;
    this.settleCharge(s, s.durableBytes);
    // The bytes are already durable; a failing close loses nothing.
    await file?.close(s.durableBytes);
  }

  /** Sets the bytes a segment is charged to its tier. */
  private settleCharge(s: Segment, charge: number): void {
    s.tier.chargedBytes += charge - s.charge;
    s.charge = charge;
  }

  /** Creates this log's directory on a tier (fsync'ing the new parents) the first time a segment goes there. */
  private async ensureDir(tier: Tier): Promise<void> {
    if (this.dirsReady.has(tier.id)) return;
    const dir = this.dirOf(tier);
    try {
      const created = await fsp.mkdir(dir, { recursive: true });
      // New directory entries are not durable until their parents are fsync'ed.
      if (created !== undefined && this.durability === 'sync') {
        const log = this.opts.log;
        for (const d of [tier.path, tenantRoot(tier.path, log.tenant), ownerDir(tier.path, log.tenant, log.owner)]) await fsyncDir(d);
      }
    } catch (err) {
      throw ioError(err, `create log directory ${dir} on tier ${tier.label}`);
    }
    this.dirsReady.add(tier.id);
  }

  /** Lays the runs out over the active segment and new ones; encodes every header. Synchronous. */
  private plan(runs: PendingRun[]): { writes: SegmentWrite[]; entries: RunEntry[] } {
    const writes: SegmentWrite[] = [];
    try {
      return this.planInto(runs, writes);
    } catch (err) {
      // No tier had room for a new segment: give back what new segments of this plan were charged.
      for (const w of writes) if (w.isNew) this.settleCharge(w.segment, 0);
      throw err;
    }
  }

  private planInto(runs: PendingRun[], writes: SegmentWrite[]): { writes: SegmentWrite[]; entries: RunEntry[] } {
    const max = this.opts.segmentBytesMax;
    const entries: RunEntry[] = [];
    const arena = new RunArena();
    let current: SegmentWrite | null = null;
    if (this.active !== null) {
      assert(!this.active.sealed && this.active.file !== null, 'active segment sealed or closed');
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
        // The tier is chosen now, for the segment's largest size (a run larger than
        // segmentBytesMax sits alone in its segment).
        const charge = Math.max(max, SEGMENT_HEADER_BYTES + runBytes);
        const tier = this.tiers.place(charge);
        const segment: Segment = { id: this.nextSegmentId++, tier, durableBytes: 0, sealed: false, file: null, charge };
        const header = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
        encodeSegmentHeader(header, 0, { segmentId: segment.id, logId: this.opts.log.id });
        current = { segment, isNew: true, position: 0, buffers: [header], bytes: SEGMENT_HEADER_BYTES, sealAfter: false };
        writes.push(current);
      }
      const offset = current.position + current.bytes;
      entries.push(runBytes <= SMALL_RUN_BYTES_MAX
        ? encodeSmallRun(run, runBytes, arena, current.buffers, current.segment.id, offset)
        : this.encodeRun(run, runBytes, current.buffers, current.segment.id, offset));
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
    // The run CRC covers the bytes in the order they are written, so it is exactly
    // the CRC32C of RunEntry.length bytes from RunEntry.offset on disk.
    let crc = crc32c(headers.subarray(0, RUN_HEADER_BYTES), 0);
    let at = RUN_HEADER_BYTES;
    let mapMin = Number.MAX_SAFE_INTEGER;
    let mapMax = -1;
    for (const block of run.blocks) {
      encodeBlockHeader(headers, at, block.header);
      const header = headers.subarray(at, at + BLOCK_HEADER_BYTES);
      buffers.push(header);
      crc = crc32c(header, crc);
      if (block.data.length > 0) {
        buffers.push(block.data);
        // The block's own CRC32C (checked by its tenant on receipt, types.ts) extends
        // the run's without reading long data a second time.
        crc = block.data.length >= CRC_COMBINE_BYTES_MIN
          ? crc32cCombine(crc, block.header.crc32c, block.data.length)
          : crc32c(block.data, crc);
      }
      at += BLOCK_HEADER_BYTES;
      mapMin = Math.min(mapMin, block.header.mapId);
      mapMax = Math.max(mapMax, block.header.mapId);
    }
    return { partition: run.partition, segmentId, offset, length: runBytes, blockCount: run.blocks.length, mapMin, mapMax, crc32c: crc };
  }

  /** Undoes a failed append as far as possible; what it cannot undo, open() will. */
  private async rollback(writes: SegmentWrite[]): Promise<void> {
    for (const w of writes) {
      const s = w.segment;
      if (w.isNew) {
        const file = s.file;
        s.file = null;
        this.settleCharge(s, 0);
        await file?.close(0);
        // Unindexed, so harmless if the unlink fails: the next open deletes it.
        segmentReadHandles.forget(this.pathOf(s));
        await fsp.rm(this.pathOf(s), { force: true }).catch(() => undefined);
        continue;
      }
      if (w.bytes === 0 || s.file === null) continue;
      if (!(await s.file.rollback(w.position))) {
        // The tail past durableBytes stays; stop appending here so no index row
        // ever covers it, and let open() cut it.
        await this.seal(s);
        if (this.active === s) this.active = null;
      }
    }
  }

  /**
   * Streams the blocks of one run. Each block's `data` is a view valid until the
   * next block is requested. Validates headers, not block data CRCs; with
   * `checkRunCrc`, the run's CRC32C too (run-reader.ts).
   */
  readRun(entry: RunEntry, chunkBytes: number, opts?: ReadRunOptions): AsyncGenerator<StoredBlock> {
    const segment = this.segments.get(entry.segmentId);
    if (segment === undefined) {
      throw new PegasusError(ErrorCode.NOT_FOUND, `segment ${entry.segmentId} of ${logName(this.opts.log)} is not in its log (removed?)`);
    }
    return readRun(this.pathOf(segment), entry, chunkBytes, opts);
  }

  /**
   * Streams the blocks of `entries`, in that order, one array per read window
   * (run-reader.ts readRuns()). Blocks stay valid as long as they are kept;
   * with `reuseWindows`, only until the next window is asked for (the windows
   * are read into the process's pool of read buffers, read-buffers.ts).
   */
  readRuns(entries: readonly RunEntry[], windowBytes: number, reuseWindows = false): AsyncGenerator<StoredBlock[]> {
    const paths = new Map<number, string>(); // a path per segment, not per run: path.join costs
    const runs = entries.map((entry) => {
      let path = paths.get(entry.segmentId);
      if (path === undefined) {
        const segment = this.segments.get(entry.segmentId);
        if (segment === undefined) {
          throw new PegasusError(ErrorCode.NOT_FOUND, `segment ${entry.segmentId} of ${logName(this.opts.log)} is not in its log (removed?)`);
        }
        path = this.pathOf(segment);
        paths.set(entry.segmentId, path);
      }
      return { entry, path };
    });
    return readRuns(runs, windowBytes, reuseWindows ? { reuseWindows: readBuffers } : {});
  }

  /**
   * Seals the active segment after any append in flight, so that every indexed
   * byte is in a sealed, immutable file (the UCX read path maps and registers
   * only sealed segments). The next append starts a new segment.
   */
  async sealActive(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
    const s = this.active;
    if (s === null) return;
    this.active = null;
    await this.seal(s);
  }

  /**
   * Whether a segment file of this log with id `segmentId` is an orphan: no
   * index row names it (the log knows every indexed segment) and no append is
   * writing it now. When it is, ids up to it are never handed out again, so
   * removing the file cannot race with a new segment of the same name.
   * Synchronous: the check and the reservation are one step.
   */
  claimUnindexedSegment(segmentId: number): boolean {
    if (this.closed !== null || this.inFlight !== null || this.segments.has(segmentId)) return false;
    this.nextSegmentId = Math.max(this.nextSegmentId, segmentId + 1);
    return true;
  }

  /** Whether a segment exists and is sealed; its durable length and its tier (`kind:path`, and its id). */
  segmentState(segmentId: number): { sealed: boolean; durableBytes: number; tier: string; tierId: number } | null {
    const s = this.segments.get(segmentId);
    return s === undefined ? null : { sealed: s.sealed, durableBytes: s.durableBytes, tier: s.tier.label, tierId: s.tier.id };
  }

  /** The file of a segment (on its tier; an unknown segment's path on the data directory's tier, or the first). */
  segmentPath(segmentId: number): string {
    const s = this.segments.get(segmentId);
    const tier = s?.tier ?? this.tiers.get(null) ?? this.tiers.tiers[0]!;
    return join(this.dirOf(tier), segmentFileName(segmentId));
  }

  /** Closes file handles after any append in flight, and the cached read handles of its files (reads hold theirs until they end); idempotent. */
  close(): Promise<void> {
    if (this.closed === null) {
      this.closed = (async () => {
        for (const tier of this.tiers.tiers) segmentReadHandles.forgetUnder(this.dirOf(tier));
        await this.inFlight;
        const s = this.active;
        this.active = null;
        if (s !== null && s.file !== null) {
          // Not sealed in the index (the next open seals it); the file is cut to its durable length.
          const file = s.file;
          s.file = null;
          this.settleCharge(s, s.durableBytes);
          await file.close(s.durableBytes);
        }
      })();
    }
    return this.closed;
  }

  /** Whether remove() was called: the log's files are gone or going. */
  get isRemoved(): boolean {
    return this.removed;
  }

  /** Closes the log and removes its directory, with all its segments, on every tier. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await this.close();
    try {
      for (const tier of this.tiers.tiers) {
        const dir = this.dirOf(tier);
        segmentReadHandles.forgetUnder(dir); // before the files go: no later read may get a handle of one
        try {
          await fsp.rm(dir, { recursive: true, force: true });
        } catch (err) {
          throw ioError(err, `remove log directory ${dir}`);
        }
      }
    } finally {
      // The index no longer names these segments: their tier charges end either
      // way (files a failed rm left behind are orphans for cleanup to find).
      for (const s of this.segments.values()) {
        s.tier.usedBytes -= s.durableBytes;
        this.settleCharge(s, 0);
      }
      this.segments.clear();
      this.bytesOnDisk = 0;
      this.opts.onRemoved?.(this);
    }
  }

  private dirOf(tier: Tier): string {
    return logDir(tier.path, this.opts.log);
  }

  private pathOf(s: Segment): string {
    return join(this.dirOf(s.tier), segmentFileName(s.id));
  }
}

/**
 * A small run (many partitions make many of them) laid out in one piece of a
 * RunArena: one copy of its few short blocks, then one CRC32C call for the
 * whole run instead of two per block, and runs that follow each other in the
 * file share one write vector entry. Same bytes as encodeRun's.
 */
function encodeSmallRun(run: PendingRun, runBytes: number, arena: RunArena, buffers: Buffer[], segmentId: number, offset: number): RunEntry {
  const out = arena.take(runBytes);
  encodeRunHeader(out, 0, { partition: run.partition, blockCount: run.blocks.length, runBytes });
  let at = RUN_HEADER_BYTES;
  let mapMin = Number.MAX_SAFE_INTEGER;
  let mapMax = -1;
  for (const block of run.blocks) {
    encodeBlockHeader(out, at, block.header);
    at += BLOCK_HEADER_BYTES;
    out.set(block.data, at);
    at += block.data.length;
    mapMin = Math.min(mapMin, block.header.mapId);
    mapMax = Math.max(mapMax, block.header.mapId);
  }
  assert.equal(at, runBytes);
  const last = buffers[buffers.length - 1];
  if (last !== undefined && last.buffer === out.buffer && last.byteOffset + last.length === out.byteOffset) {
    buffers[buffers.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + out.length);
  } else {
    buffers.push(out);
  }
  return { partition: run.partition, segmentId, offset, length: runBytes, blockCount: run.blocks.length, mapMin, mapMax, crc32c: crc32c(out, 0) };
}

/** Memory for the small runs of one append, carved in order from chunks of RUN_ARENA_CHUNK_BYTES; freed with the append. */
class RunArena {
  private chunk: Buffer = Buffer.alloc(0);
  private used = 0;

  take(bytes: number): Buffer {
    if (this.used + bytes > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(RUN_ARENA_CHUNK_BYTES, bytes));
      this.used = 0;
    }
    const piece = this.chunk.subarray(this.used, this.used + bytes);
    this.used += bytes;
    return piece;
  }
}
