// The flusher: the one owner of pressure flushes, the disk-full state and
// housekeeping, for every tenant. Tenants register what holds buffered bytes
// (FlushSource); when the memory budget passes its flush threshold, or pushes
// wait for memory, the flusher flushes the sources holding the most, a bounded
// number at once.
//
// Disk full: any flush that fails with DISK_FULL (a pressure flush here, or a
// tenant's own commit flush reported through noteError) puts the engine in the
// disk-full state: buffered data cannot leave memory, so admissions are refused
// with DISK_FULL (rather than waiting forever for memory) until the file system
// again has room for everything buffered plus the reserve. Housekeeping
// refreshes free space and retries pressure flushes.
//
// Thread contract: event loop only.
import { ErrorCode, PegasusError } from '../errors.js';
import { HOUSEKEEPING_INTERVAL_MS, PRESSURE_FLUSHES_MAX } from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { boundGarbage } from './garbage-bound.js';
import type { MemoryBudget } from './memory-budget.js';
import type { TierSet } from './tiers.js';

/** Something that buffers bytes in the budget and can write them out. */
export interface FlushSource {
  /** Bytes it holds in the budget. */
  readonly bufferedBytes: number;
  /** A flush is queued (a new request would join it). */
  readonly hasQueuedFlush: boolean;
  /** A flush is queued or running (pegasus_flush_queue_depth counts these). */
  readonly hasPendingFlush: boolean;
  /** Writes everything it holds durably and releases its budget bytes. */
  flush(): Promise<void>;
  /** Removed by its tenant: a failed flush of it is a normal race, not an error. */
  readonly isRemoved: boolean;
  /** For logs: who it is. */
  describe(): Record<string, unknown>;
}

export interface FlusherOptions {
  memoryBudgetBytes: number;
  flushThresholdRatio: number;
  segmentBytesMax: number;
  diskReserveBytes: number;
}

export class Flusher {
  private readonly sources: Array<() => Iterable<FlushSource>> = [];
  private pressureFlushes = 0;
  private diskFull = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly opts: FlusherOptions,
    private readonly budget: MemoryBudget,
    private readonly tiers: TierSet,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
    /** External memory held on purpose beyond the budget's used and waiting bytes (idle pooled buffers). */
    private readonly idleHeldBytes: () => number = () => 0,
  ) {}

  /** A tenant's sources, listed anew at every pressure flush. */
  addSources(list: () => Iterable<FlushSource>): void {
    this.sources.push(list);
  }

  start(): void {
    this.timer = setInterval(() => this.housekeep(), HOUSEKEEPING_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  get isDiskFull(): boolean {
    return this.diskFull;
  }

  /** Sources with a flush queued or running. */
  queueDepth(): number {
    let n = 0;
    for (const s of this.allSources()) if (s.hasPendingFlush) n++;
    return n;
  }

  /** Throws DISK_FULL when bytes offered now could not leave memory. */
  checkRoom(): void {
    if (this.diskFull) {
      throw new PegasusError(ErrorCode.DISK_FULL, `data directory is full: a flush failed with no space left; ${this.budget.used} bytes wait in memory for room`);
    }
    // Active segments may still have room, so a full capacity alone refuses nothing
    // here: the flush that cannot place a new segment is DISK_FULL (diskFull above).
    if (!this.tiers.hasRoom(0)) {
      throw new PegasusError(ErrorCode.DISK_FULL, `no storage tier has free space above the reserve of ${this.opts.diskReserveBytes} bytes: ${this.tiers.tiers.map((t) => t.describe()).join('; ')}`);
    }
  }

  /** Reserves `bytes` in the budget, starting pressure flushes when it has to wait. */
  async admit(bytes: number): Promise<void> {
    if (this.budget.tryReserve(bytes)) return;
    // Queue first, then flush: a waiting push is itself a reason to flush even
    // below the threshold (the in-flight reserve may cap buffering under it).
    const room = this.budget.reserve(bytes);
    this.relievePressure();
    await room;
  }

  /** Bytes were buffered: flush when past the threshold. */
  afterBuffered(): void {
    if (this.budget.used >= this.threshold()) this.relievePressure();
  }

  /** Any flush that hits ENOSPC (pressure or a tenant's own) puts the engine in the disk-full state. */
  noteError(err: unknown): void {
    if (err instanceof PegasusError && err.wireCode === ErrorCode.DISK_FULL) this.enterDiskFull();
  }

  private threshold(): number {
    return this.opts.memoryBudgetBytes * this.opts.flushThresholdRatio;
  }

  private *allSources(): Iterable<FlushSource> {
    for (const list of this.sources) yield* list();
  }

  /** Starts flushes of the sources holding the most buffered bytes, up to PRESSURE_FLUSHES_MAX at once. */
  private relievePressure(): void {
    if (this.diskFull || this.stopped) return; // housekeeping retries once the disk has room again
    const threshold = this.threshold();
    while (this.pressureFlushes < PRESSURE_FLUSHES_MAX && (this.budget.used >= threshold || this.budget.waiterCount > 0)) {
      let biggest: FlushSource | null = null;
      for (const s of this.allSources()) {
        if (!s.hasQueuedFlush && s.bufferedBytes > 0 && (biggest === null || s.bufferedBytes > biggest.bufferedBytes)) biggest = s;
      }
      if (biggest === null) return;
      this.pressureFlushes++;
      const target = biggest;
      target.flush()
        .catch((err: unknown) => {
          const code = err instanceof PegasusError ? err.code : 'INTERNAL';
          // A source removed while it flushed is a normal race, not a failure worth an error line.
          if (target.isRemoved) {
            this.log.debug('flush of a removed source', { ...target.describe(), code });
            return;
          }
          this.log.error('flush failed', { ...target.describe(), code, error: String(err) });
          this.noteError(err);
          void this.refreshDiskFree();
        })
        .finally(() => {
          this.pressureFlushes--;
          if (boundGarbage(this.budget.used + this.budget.waiting + this.idleHeldBytes())) this.metrics.forcedCollections.inc();
          this.relievePressure();
        });
    }
  }

  private enterDiskFull(): void {
    if (!this.diskFull) this.log.error('disk full, refusing pushes', { bufferedBytes: this.budget.used, tiers: this.tiers.tiers.map((t) => t.describe()) });
    this.diskFull = true;
    this.budget.rejectAll(new PegasusError(ErrorCode.DISK_FULL, 'data directory is full; the push was not stored'));
  }

  private housekeep(): void {
    void this.refreshDiskFree().then(() => this.relievePressure());
  }

  /** Refreshes every tier's free space; leaves the disk-full state when a tier has room again. */
  async refreshDiskFree(): Promise<void> {
    await this.tiers.refreshFree();
    if (this.diskFull && this.tiers.hasRoom(this.opts.segmentBytesMax, this.budget.used)) {
      this.diskFull = false;
      this.log.info('a storage tier has room again, taking pushes', { tiers: this.tiers.tiers.map((t) => t.describe()), bufferedBytes: this.budget.used });
    }
  }
}
