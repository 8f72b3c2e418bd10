// The engine: everything below the tenants. Storage tiers, the catalog
// (LevelDB), segment logs with their recovery, the one memory budget, the
// flusher (pressure flushes, disk-full state, housekeeping), segment mappings
// for UCX reads and the orphan sweep. It knows logs by LogId and nothing of
// what a tenant keeps in them.
//
// The one durable step is append(): runs go to the log's segment files and are
// made durable (fdatasync, or libpmem2 persist), then their catalog rows and
// the tenant's rows are written in one synced batch. When append() resolves,
// everything it wrote survives a crash; when it fails, nothing it wrote is
// ever read (bytes without catalog rows are a torn tail, cut at the next open).
//
// Thread contract: event loop only. Appends to one log are serialized by its
// tenant; reads run at any time (engine/run-reader.ts).
import { join } from 'node:path';

import { nativeStatus } from '../../../native/ts/index.js';
import type { ServerConfig } from '../config.js';
import { CONNECTIONS_MAX, PUSH_WINDOW_MAX } from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { BufferPool } from './buffer-pool.js';
import { readBuffers } from './read-buffers.js';
import { Catalog, type CatalogRow } from './catalog/catalog.js';
import type { RunEntry, SegmentEntry } from './catalog/types.js';
import { beforeAppend, faultsFromEnv, readCutDue, type Faults } from './faults.js';
import { Flusher } from './flusher.js';
import { removeLogDir, removeOwnerDir } from './log-dirs.js';
import type { LogId } from './log-id.js';
import { MemoryBudget, PushWindow } from './memory-budget.js';
import { findOrphans, removeOrphans, type Orphan, type OrphanJudge } from './orphans.js';
import { SegmentLog } from './segment-log.js';
import { SegmentMappings } from './segment-mappings.js';
import type { TenantName } from './tenants.js';
import { TierSet } from './tiers.js';
import type { PendingRun } from './types.js';
import { toPegasusError, type PegasusError } from '../errors.js';

export class Engine {
  readonly budget: MemoryBudget;
  readonly flusher: Flusher;
  readonly mappings: SegmentMappings;
  /** Buffers for received bytes held until a flush, reused (buffer-pool.ts); idle ones use the budget's free room. */
  readonly pushBuffers: BufferPool;
  /** Buffers read windows are read into and reused (the process's pool, shared by every log). */
  readonly readBuffers: BufferPool = readBuffers;
  /** Injected faults (faults.ts); all off unless a test sets PEGASUS_FAULT_*. */
  private readonly faults: Faults = faultsFromEnv();
  /** Read streams opened per range, for the PEGASUS_FAULT_READ_CUTS fault. */
  private readonly readsByRange = new Map<string, number>();
  private stopping = false;
  /** Frees space by deleting what a tenant allows (cache files), or null: nothing may go. */
  private spaceReclaimer: (() => Promise<void>) | null = null;
  /** The reclaim running now; callers that need room wait for the same one. */
  private reclaiming: Promise<void> | null = null;

  private constructor(
    private readonly cfg: ServerConfig,
    /** Where segment files go (tiers.ts); free space and capacity decide DISK_FULL. */
    readonly tiers: TierSet,
    readonly catalog: Catalog,
    private readonly log: Logger,
    readonly metrics: ServerMetrics,
  ) {
    this.budget = new MemoryBudget(cfg.memoryBudgetBytes, CONNECTIONS_MAX * PUSH_WINDOW_MAX);
    const budget = this.budget;
    this.pushBuffers = new BufferPool(() => budget.budgetBytes - budget.used - budget.waiting);
    this.flusher = new Flusher(cfg, this.budget, tiers, log, metrics, () => this.pushBuffers.idleBytes);
    this.flusher.addHousekeeping(() => this.pushBuffers.dropIdleIfUnused());
    this.flusher.addHousekeeping(() => {
      if (this.needsRoom()) void this.ensureRoom().catch(() => undefined);
    });
    this.mappings = new SegmentMappings(cfg.ucxRegisteredBytesMax, (err) => toPegasusError(err), log);
  }

  /**
   * Lets a tenant free space when the store runs short (the objects tenant:
   * cache files, least recently used first). One reclaimer; it must not append.
   */
  setSpaceReclaimer(fn: () => Promise<void>): void {
    this.spaceReclaimer = fn;
  }

  /** Whether the store is short of space (no tier has room for two more segments) and a reclaimer could help. Synchronous. */
  needsRoom(): boolean {
    return this.spaceReclaimer !== null && !this.tiers.hasRoom(2 * this.cfg.segmentBytesMax);
  }

  /** When the store is short of space, runs the reclaimer (one at a time) and then refreshes the tiers' free space. */
  async ensureRoom(): Promise<void> {
    if (!this.needsRoom()) return;
    this.reclaiming ??= (async () => {
      try {
        await this.spaceReclaimer!();
      } finally {
        await this.flusher.refreshDiskFree().catch(() => undefined);
        this.reclaiming = null;
      }
    })();
    await this.reclaiming;
  }

  /** Injected fault (faults.ts, PEGASUS_FAULT_READ_CUTS): whether the read stream of `range` being opened is to be cut. */
  readCutDue(range: string): boolean {
    return readCutDue(this.faults, this.readsByRange, range);
  }

  /** Opens the tiers and the catalog. Tenants then open their logs; start() begins housekeeping. */
  static async open(cfg: ServerConfig, log: Logger, metrics: ServerMetrics): Promise<Engine> {
    const tiers = TierSet.fromConfig(cfg);
    await tiers.checkDirs();
    const degraded = tiers.tiers.filter((t) => t.kind === 'pmem' && !t.writesThroughPmem);
    if (degraded.length > 0) {
      log.warn('pmem tier written with ordinary file writes and fdatasync', { tiers: degraded.map((t) => t.label), reason: nativeStatus().reason });
    }
    trackTiers(metrics, tiers);
    const catalog = await Catalog.open(join(cfg.dataDir, 'index'), log);
    const engine = new Engine(cfg, tiers, catalog, log, metrics);
    if (engine.faults.appendDelayMs > 0) log.warn('fault injected: every durable append is delayed', { appendDelayMs: engine.faults.appendDelayMs });
    if (engine.faults.appendGate !== '') log.warn('fault injected: every durable append waits for a gate file', { appendGate: engine.faults.appendGate });
    if (engine.faults.readCuts > 0) log.warn('fault injected: the first read streams of each range are cut before their second frame', { readCuts: engine.faults.readCuts });
    metrics.registry.gauge('pegasus_flush_queue_depth', 'Logs with a flush queued or running.', () => engine.flusher.queueDepth());
    return engine;
  }

  /** After recovery: refresh free space and start housekeeping. */
  async start(): Promise<void> {
    await this.flusher.refreshDiskFree();
    this.flusher.start();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** A connection's share of the in-flight reserve (memory-budget.ts). */
  openPushWindow(window: number): PushWindow {
    return new PushWindow(this.budget, window);
  }

  /** Opens (creating its directory) the log `id` over its indexed segments, recovering their files. */
  openLog(id: LogId, known: SegmentEntry[], removedError?: () => PegasusError): Promise<SegmentLog> {
    return SegmentLog.open({
      dataDir: this.cfg.dataDir, log: id, segmentBytesMax: this.cfg.segmentBytesMax, tiers: this.tiers,
      onRemoved: (removed) => this.mappings.logRemoved(removed),
      durability: this.cfg.commitDurability,
      ...(removedError === undefined ? {} : { removedError }),
    }, known);
  }

  /**
   * The durable step: appends `runs` to `log`, makes them durable, then writes
   * their catalog rows plus `rows` in one synced batch. Resolves once all of it
   * is durable. Callers serialize appends to one log.
   */
  async append(log: SegmentLog, runs: PendingRun[], rows: CatalogRow[]): Promise<RunEntry[]> {
    await beforeAppend(this.faults);
    // Cache files give way before new segments fail to find a tier.
    if (this.needsRoom()) await this.ensureRoom().catch(() => undefined);
    const appended = runs.length > 0 ? await log.appendRuns(runs) : { runs: [], segments: [] };
    if (log.isRemoved) return appended.runs;
    await this.catalog.writeAppend(log.id, appended.runs, appended.segments, rows, this.cfg.commitDurability === 'sync');
    return appended.runs;
  }

  /** Removes a log: its catalog rows first (so nothing points at files), then its files. */
  async removeLog(log: SegmentLog): Promise<void> {
    await this.catalog.deleteLog(log.id);
    await log.remove();
  }

  /**
   * For a tenant that does not keep its logs open (objects): counts every
   * indexed segment of its logs against its tier, as opening the logs would.
   * Called once at start, before the tenant writes.
   */
  async countStoredLogs(tenant: TenantName): Promise<number> {
    const all = await this.catalog.listTenantSegments(tenant);
    for (const { segment } of all) {
      const tier = this.tiers.get(segment.tierId);
      if (tier === undefined) continue; // a tier no longer configured: its log fails when read
      tier.usedBytes += segment.durableBytes;
      tier.chargedBytes += segment.durableBytes;
    }
    return all.length;
  }

  /**
   * Removes a log that is not open (its segments sealed and counted by
   * countStoredLogs or by a SegmentLog since dropped): its catalog rows first,
   * then its files on every tier; its tiers' counts go down by its segments.
   */
  async removeStoredLog(id: LogId): Promise<void> {
    const segments = await this.catalog.listSegments(id);
    await this.catalog.deleteLog(id);
    for (const s of segments) {
      const tier = this.tiers.get(s.tierId);
      if (tier === undefined) continue;
      tier.usedBytes -= s.durableBytes;
      tier.chargedBytes -= s.durableBytes;
    }
    for (const tier of this.tiers.tiers) await removeLogDir(tier.path, id);
  }

  /** Removes an owner's catalog rows and its directory on every tier (after its logs are removed or closed). */
  async removeOwner(tenant: TenantName, owner: string): Promise<void> {
    await this.catalog.deleteOwner(tenant, owner);
    for (const tier of this.tiers.tiers) await removeOwnerDir(tier.path, tenant, owner);
  }

  /** Lists (at most `max`) and, unless `dryRun`, removes orphaned files. */
  async sweepOrphans(judge: OrphanJudge, max: number, dryRun: boolean): Promise<Orphan[]> {
    const found = await findOrphans(this.tiers, judge, max);
    return dryRun ? found : removeOrphans(found, judge);
  }

  /** Stops housekeeping and refuses waiting admissions; tenants then close their logs; close() ends the catalog. */
  beginStop(err: Error): void {
    this.stopping = true;
    this.flusher.stop();
    this.budget.rejectAll(err);
  }

  async close(): Promise<void> {
    await this.mappings.close();
    await this.catalog.close();
  }
}

/** Per-tier gauges (pegasus_tier_*). */
function trackTiers(metrics: ServerMetrics, tiers: TierSet): void {
  const each = (f: (t: TierSet['tiers'][number]) => number) => () => tiers.tiers.map((t): [Record<string, string>, number] => [{ tier: t.label, kind: t.kind }, f(t)]);
  metrics.registry.gauge('pegasus_tier_used_bytes', 'Durable bytes of segment files on each storage tier.', each((t) => t.usedBytes));
  metrics.registry.gauge('pegasus_tier_charged_bytes', 'Bytes charged against each tier\'s capacity: whole segments while active (pmem segments are preallocated), durable bytes once sealed.', each((t) => t.chargedBytes));
  metrics.registry.gauge('pegasus_tier_capacity_bytes', 'Configured capacity of each storage tier (9007199254740991: bounded by its file system only).', each((t) => t.capacityBytes));
  metrics.registry.gauge('pegasus_tier_free_bytes', 'Free bytes of each tier\'s file system at the last check.', each((t) => t.freeBytes === Number.MAX_SAFE_INTEGER ? 0 : t.freeBytes));
  metrics.registry.gauge('pegasus_tier_pmem_writes', 'Whether segments of each tier are written through libpmem2 (1) or with file writes and fdatasync (0).', each((t) => (t.writesThroughPmem ? 1 : 0)));
}
