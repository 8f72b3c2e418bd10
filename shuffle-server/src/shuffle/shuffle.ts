// One registered shuffle: its partition buffers, its attempt receipts, its
// commits with group commit, and the planning of its reads. Its bytes live in
// one engine log (LogId: shuffle, appId, shuffleId).
//
// Thread contract: everything runs on the event loop; the only concurrency is
// between awaits. Flushes of one shuffle are serialized through `flushChain`;
// after every await the code re-checks `removed`.
//
// Durability: a push is acknowledged once its blocks are buffered (memory). A
// commit is acknowledged only after a flush has fdatasync'ed the attempt's
// blocks and written the commit record to the index with sync. Commits that
// arrive close together share one flush (group commit).
import assert from 'node:assert/strict';
import { CommittedBlockFilter } from '../../../schemas/ts/committed-blocks.js';
import type { BlockHeader } from '../../../schemas/ts/messages.js';
import type { RunEntry } from '../engine/catalog/types.js';
import type { PooledBuffer } from '../engine/buffer-pool.js';
import type { Engine } from '../engine/engine.js';
import type { FlushSource } from '../engine/flusher.js';
import { verifyRun, type VerifyCounts, type VerifyErrorSink } from '../engine/log-verifier.js';
import type { SegmentLog } from '../engine/segment-log.js';
import type { BufferedBlock, PendingRun, StoredBlock } from '../engine/types.js';
import { ErrorCode, PegasusError, toPegasusError } from '../errors.js';
import { PENDING_COMMITS_MAX, VERIFY_PARTITIONS_PER_STEP_MAX } from '../limits.js';
import type { ServerMetrics } from '../metrics.js';
import { AttemptReceipts } from './attempt-receipts.js';
import type { ShuffleCatalog } from './shuffle-catalog.js';
import { commitRow, shuffleGone, type CommitEntry, type ShuffleEntry } from './shuffle-rows.js';

export type { VerifyCounts, VerifyErrorSink };

export interface ShuffleDeps {
  engine: Engine;
  catalog: ShuffleCatalog;
  metrics: ServerMetrics;
  commitFlushDelayMs: number;
}

export interface CommitOutcome {
  won: boolean;
  winnerAttempt: number;
}

interface PendingCommit {
  entry: CommitEntry;
  resolve: () => void;
  reject: (err: PegasusError) => void;
}

export class Shuffle implements FlushSource {
  readonly appId: string;
  readonly shuffleId: number;
  readonly numMaps: number;
  readonly numPartitions: number;
  readonly createdAtMs: number;
  lastActivityMs = Date.now();

  private readonly log: SegmentLog;
  private readonly deps: ShuffleDeps;
  private buffers = new Map<number, BufferedBlock[]>();
  /** The pooled copies of the pushes in `buffers`, given back to the engine's pool once flushed or dropped. */
  private held: PooledBuffer[] = [];
  private buffered = 0;
  private readonly receipts = new AttemptReceipts();
  private readonly committed = new Map<number, CommitEntry>();
  private readonly committing = new Map<number, Promise<unknown>>();
  private pendingCommits: PendingCommit[] = [];
  private flushChain: Promise<void> = Promise.resolve();
  private queuedFlush: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private removed = false;
  /** A flushOnce() is between its start and its end (queuedFlush is null by then). */
  private flushRunning = false;
  private pushedBytesTotal = 0;

  constructor(entry: ShuffleEntry, log: SegmentLog, commits: CommitEntry[], deps: ShuffleDeps) {
    this.appId = entry.appId;
    this.shuffleId = entry.shuffleId;
    this.numMaps = entry.numMaps;
    this.numPartitions = entry.numPartitions;
    this.createdAtMs = entry.createdAtMs;
    this.log = log;
    this.deps = deps;
    for (const c of commits) this.committed.set(c.mapId, c);
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  get committedMaps(): number {
    return this.committed.size;
  }

  get pushedBytes(): number {
    return this.pushedBytesTotal;
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  /** The engine log holding this shuffle's bytes. */
  get segmentLog(): SegmentLog {
    return this.log;
  }

  describe(): Record<string, unknown> {
    return { appId: this.appId, shuffleId: this.shuffleId };
  }

  get hasQueuedFlush(): boolean {
    return this.queuedFlush !== null;
  }

  /** A flush is queued or running (pegasus_flush_queue_depth counts these shuffles). */
  get hasPendingFlush(): boolean {
    return this.queuedFlush !== null || this.flushRunning;
  }

  /** See SegmentLog.claimUnindexedSegment: whether a segment file of this shuffle is an orphan. */
  claimUnindexedSegment(segmentId: number): boolean {
    return !this.removed && this.log.claimUnindexedSegment(segmentId);
  }

  diskBytes(): number {
    return this.log.diskBytes();
  }

  private gone(): PegasusError {
    return shuffleGone(this.appId, this.shuffleId);
  }

  /**
   * Whether a checked push (push-check.ts) needs storing: false when its map
   * already committed, or the batch is a retry of one already received.
   */
  needsPush(blocks: readonly BlockHeader[]): boolean {
    if (this.removed) throw this.gone();
    if (blocks.length === 0) return false;
    const first = blocks[0]!;
    if (this.committed.has(first.mapId)) return false;
    return !this.receipts.has(first.mapId, first.attempt, first.batch);
  }

  /**
   * Buffers the blocks of one push whose bytes (data.capacity) are already
   * reserved in the budget. `data` is a pooled copy of the frame body, owned by
   * this shuffle from here on when accepted. Returns false (and releases the
   * reservation; the caller gives `data` back) when, after the wait for
   * memory, the batch turned out to be a duplicate or the map committed
   * meanwhile; throws likewise when the shuffle was removed.
   */
  accept(blocks: readonly BlockHeader[], pooled: PooledBuffer): boolean {
    const reserved = pooled.capacity;
    const data = pooled.bytes;
    const first = blocks[0]!;
    if (this.removed || this.committed.has(first.mapId) || !this.receipts.add(first.mapId, first.attempt, first.batch)) {
      this.deps.engine.budget.release(reserved);
      if (this.removed) throw this.gone();
      return false;
    }
    let pos = 0;
    for (const header of blocks) {
      const bytes = data.subarray(pos, pos + header.storedLength);
      pos += header.storedLength;
      let list = this.buffers.get(header.partition);
      if (list === undefined) {
        list = [];
        this.buffers.set(header.partition, list);
      }
      list.push({ header, data: bytes });
    }
    assert.equal(pos, data.length);
    this.held.push(pooled);
    this.buffered += reserved;
    this.pushedBytesTotal += data.length;
    this.lastActivityMs = Date.now();
    return true;
  }

  /** Commits a map attempt; resolves once durable. The first attempt to commit wins. */
  async commit(mapId: number, attempt: number, batchCount: number): Promise<CommitOutcome> {
    for (;;) {
      if (this.removed) throw this.gone();
      if (mapId >= this.numMaps) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `map ${mapId} >= num_maps ${this.numMaps}`);
      const done = this.committed.get(mapId);
      if (done !== undefined) return { won: done.attempt === attempt, winnerAttempt: done.attempt };
      const inflight = this.committing.get(mapId);
      if (inflight === undefined) break;
      // Another attempt of this map is committing: its outcome decides ours.
      await inflight.catch(() => undefined);
    }
    const missing = this.receipts.firstMissing(mapId, attempt, batchCount);
    if (missing >= 0) {
      throw new PegasusError(ErrorCode.MISSING_BATCHES, `map ${mapId} attempt ${attempt} commits ${batchCount} batches but batch ${missing} was never received by this server`);
    }
    // Commits queued for a flush or in the flush running now: each holds a
    // client request and its entry until durable.
    if (this.committing.size >= PENDING_COMMITS_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `shuffle ${this.appId}/${this.shuffleId} has ${this.committing.size} commits waiting to be durable, limit ${PENDING_COMMITS_MAX}; retry the commit`);
    }
    const entry: CommitEntry = { mapId, attempt, batchCount };
    const durable = new Promise<void>((resolve, reject) => {
      this.pendingCommits.push({ entry, resolve, reject });
    });
    this.committing.set(mapId, durable);
    this.lastActivityMs = Date.now();
    this.scheduleFlush(this.deps.commitFlushDelayMs);
    try {
      await durable;
    } finally {
      this.committing.delete(mapId);
    }
    return { won: true, winnerAttempt: attempt };
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushTimer !== null || this.removed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush().catch(() => undefined); // failures reach the commits and the caller's metrics
    }, delayMs);
  }

  /**
   * Writes everything buffered (and every pending commit) durably. Flushes are
   * serialized; a flush requested while one is queued joins the queued one.
   */
  flush(): Promise<void> {
    if (this.queuedFlush !== null) return this.queuedFlush;
    const run = this.flushChain.then(async () => {
      this.queuedFlush = null;
      this.flushRunning = true;
      try {
        await this.flushOnce();
      } finally {
        this.flushRunning = false;
      }
    });
    this.queuedFlush = run;
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(): Promise<void> {
    const commits = this.pendingCommits.splice(0);
    if (this.removed) {
      for (const c of commits) c.reject(this.gone());
      return;
    }
    const partitions = [...this.buffers.keys()].sort((a, b) => a - b);
    const runs: PendingRun[] = partitions.map((p) => ({ partition: p, blocks: this.buffers.get(p)! }));
    const bytes = this.buffered;
    const held = this.held;
    this.buffers = new Map();
    this.held = [];
    this.buffered = 0;
    if (runs.length === 0 && commits.length === 0) return;
    const { engine, metrics } = this.deps;
    const budget = engine.budget;
    // Only once append() has returned: until then a write may still read the bytes.
    const giveBack = (): void => {
      for (const p of held) engine.pushBuffers.release(p);
    };
    const startNs = process.hrtime.bigint();
    try {
      await engine.append(this.log, runs, commits.map((c) => commitRow(this.appId, this.shuffleId, c.entry)));
      if (this.removed) throw this.gone();
    } catch (err) {
      const error = this.removed ? this.gone() : toPegasusError(err, ErrorCode.STORAGE_IO);
      if (this.removed) {
        budget.release(bytes);
        giveBack();
      } else {
        // Nothing acknowledged may be lost: put the blocks back ahead of newer
        // ones, keep their memory reserved, and let the next flush try again.
        // Bytes that reached the segment without index rows are never read.
        for (const r of runs) {
          const newer = this.buffers.get(r.partition) ?? [];
          this.buffers.set(r.partition, r.blocks.concat(newer));
        }
        this.held = held.concat(this.held);
        this.buffered += bytes;
      }
      for (const c of commits) c.reject(error);
      throw error;
    }
    budget.release(bytes);
    giveBack();
    metrics.flushLatency.observeSince(startNs);
    metrics.flushes.inc();
    metrics.flushedBytes.inc(bytes);
    for (const c of commits) {
      this.committed.set(c.entry.mapId, c.entry);
      this.receipts.forgetMap(c.entry.mapId);
      c.resolve();
    }
  }

  /**
   * Committed blocks of partitions [pStart, pEnd) from maps [mStart, mEnd):
   * per partition in stored order, only each map's winning attempt, batches
   * below its committed count, each (map, batch, seq) once. In arrays of one
   * read window each (engine/run-reader.ts readRuns()), so that a read of many
   * small partitions pays per window, not per block. A window's blocks are
   * valid only until the next window is asked for: its memory is read into
   * again (the WebSocket read stream sends a window before it asks for more).
   */
  async *readBlocks(pStart: number, pEnd: number, mStart: number, mEnd: number, chunkBytes: number): AsyncGenerator<StoredBlock[]> {
    if (this.removed) throw this.gone();
    const filter = new CommittedBlockFilter(this.committed.values(), mStart, mEnd);
    const all = await this.deps.catalog.listRuns(this.appId, this.shuffleId, pStart, pEnd);
    if (this.removed) throw this.gone();
    const runs = all.filter((run) => !(run.mapMax < mStart || run.mapMin >= mEnd));
    try {
      for await (const window of this.log.readRuns(runs, chunkBytes, true)) {
        if (this.removed) throw this.gone();
        const kept = window.filter((b) => filter.accept(b.header));
        if (kept.length > 0) yield kept;
      }
    } catch (err) {
      // Files of a shuffle removed meanwhile go away under the read.
      if (this.removed) throw this.gone();
      throw err;
    }
    this.lastActivityMs = Date.now();
  }

  /**
   * Re-reads every stored run of this shuffle (all attempts, committed or not:
   * what is on disk) through the read path, which checks every header, and
   * checks each block's data CRC32C and, where the index row has one, the run's
   * CRC32C. Streams: one run at a time, one read chunk in memory; run rows are
   * listed a few partitions at a time. Problems go to `sink` (CORRUPT_DATA,
   * CHECKSUM_MISMATCH, NOT_FOUND, STORAGE_IO) and the check goes on with the next
   * run. Stops quietly when the shuffle is removed meanwhile.
   */
  async verify(chunkBytes: number, sink: VerifyErrorSink): Promise<VerifyCounts> {
    const counts: VerifyCounts = { runs: 0, blocks: 0, bytes: 0 };
    for (let pStart = 0; pStart < this.numPartitions && !this.removed; pStart += VERIFY_PARTITIONS_PER_STEP_MAX) {
      const pEnd = Math.min(this.numPartitions, pStart + VERIFY_PARTITIONS_PER_STEP_MAX);
      const runs = await this.deps.catalog.listRuns(this.appId, this.shuffleId, pStart, pEnd);
      for (const run of runs) {
        if (this.removed) return counts;
        await verifyRun(this.log, run, chunkBytes, counts, sink);
      }
    }
    return counts;
  }

  /**
   * What a one-sided (UCX) read of partitions [pStart, pEnd) from maps
   * [mStart, mEnd) needs: the runs that may hold such blocks, in the order
   * readBlocks() reads them, the sealed segments they lie in, and the commits
   * that decide which of their blocks count (readers apply the same rule as
   * readBlocks(): map in range, winning attempt, batch below the count, each
   * (map, batch, seq) once per partition). The active segment is sealed first
   * when a run lies in it, so every run lies in an immutable file.
   */
  async planRuns(pStart: number, pEnd: number, mStart: number, mEnd: number): Promise<{
    runs: RunEntry[];
    segments: Array<{ segmentId: number; path: string; length: number }>;
    commits: CommitEntry[];
  }> {
    if (this.removed) throw this.gone();
    const commits: CommitEntry[] = [];
    for (const c of this.committed.values()) if (c.mapId >= mStart && c.mapId < mEnd) commits.push(c);
    commits.sort((a, b) => a.mapId - b.mapId);
    const all = await this.deps.catalog.listRuns(this.appId, this.shuffleId, pStart, pEnd);
    if (this.removed) throw this.gone();
    const runs = all.filter((r) => !(r.mapMax < mStart || r.mapMin >= mEnd));
    // Seal the active segment only when a planned run lies in it, so reads that
    // interleave with writes do not cut segments short needlessly.
    if (runs.some((r) => this.log.segmentState(r.segmentId)?.sealed === false)) {
      await this.log.sealActive();
      if (this.removed) throw this.gone();
    }
    const segments: Array<{ segmentId: number; path: string; length: number }> = [];
    const seen = new Set<number>();
    for (const r of runs) {
      if (seen.has(r.segmentId)) continue;
      seen.add(r.segmentId);
      const state = this.log.segmentState(r.segmentId);
      if (state === null || !state.sealed || r.offset + r.length > state.durableBytes) {
        throw new PegasusError(ErrorCode.INTERNAL, `run at ${r.offset}+${r.length} of segment ${r.segmentId} is not in a sealed durable segment (${JSON.stringify(state)})`);
      }
      segments.push({ segmentId: r.segmentId, path: this.log.segmentPath(r.segmentId), length: state.durableBytes });
    }
    this.lastActivityMs = Date.now();
    return { runs, segments, commits };
  }

  /** Removes the shuffle: index entries first (so nothing points at files), then files. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.flushChain;
    for (const c of this.pendingCommits.splice(0)) c.reject(this.gone());
    if (this.buffered > 0) this.deps.engine.budget.release(this.buffered);
    for (const p of this.held) this.deps.engine.pushBuffers.release(p);
    this.buffers = new Map();
    this.held = [];
    this.buffered = 0;
    await this.deps.engine.removeLog(this.log);
  }

  /** Flushes and closes files (graceful stop). */
  async close(): Promise<void> {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.removed) await this.flush().catch(() => undefined);
    await this.flushChain;
    await this.log.close();
  }
}
