// The shuffle service: applications, their shuffles, pushes, commits and reads,
// one memory budget, expiry and recovery. The network layer calls only this.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '../../../native/ts/crc32c.js';
import { nativeStatus } from '../../../native/ts/index.js';
import { checkAppId } from '../../../schemas/ts/ids.js';
import type { CommitMap, OpenRead, PlanRead, PushBlocks, RegisterShuffle } from '../../../schemas/ts/messages.js';
import type { ServerConfig } from '../config.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { ShuffleIndex } from '../index/shuffle-index.js';
import {
  APPS_MAX, BLOCK_BYTES_MAX, COMMITS_PER_PLAN_MAX, CONNECTIONS_MAX, REGIONS_PER_PLAN_MAX, RUNS_PER_PLAN_MAX, MAPS_PER_SHUFFLE_MAX, PARTITIONS_PER_SHUFFLE_MAX, PUSH_WINDOW_MAX, SHUFFLES_MAX,
} from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { SegmentLog } from '../store/segment-log.js';
import { listAppDirs, listShuffleDirs, removeAppDir } from '../store/shuffle-dirs.js';
import { TierSet } from '../store/tiers.js';
import type { StoredBlock } from '../store/types.js';
import { boundGarbage } from './garbage-bound.js';
import { MemoryBudget } from './memory-budget.js';
import { Shuffle, type CommitOutcome } from './shuffle.js';

interface App {
  appId: string;
  lastSeenMs: number;
  shuffles: Map<number, Shuffle>;
}

/** Flushes started by memory pressure at once (one per core is plenty on one disk). */
const PRESSURE_FLUSHES_MAX = 2;
/** How often the housekeeping timer runs (pressure retry, disk space). */
const HOUSEKEEPING_INTERVAL_MS = 500;

export class ShuffleService {
  readonly budget: MemoryBudget;
  private readonly apps = new Map<string, App>();
  private readonly registering = new Map<string, Promise<void>>();
  private shuffleCount = 0;
  private pressureFlushes = 0;
  private stopping = false;
  /**
   * Set when a flush hit ENOSPC: buffered data cannot leave memory, so pushes
   * are refused with DISK_FULL (rather than waiting forever for memory) until
   * the file system again has room for everything buffered plus the reserve.
   */
  private diskFull = false;
  private housekeeping: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;

  private constructor(
    private readonly cfg: ServerConfig,
    /** Where segment files go (store/tiers.ts); free space and capacity decide DISK_FULL. */
    readonly tiers: TierSet,
    private readonly index: ShuffleIndex,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    this.budget = new MemoryBudget(cfg.memoryBudgetBytes, CONNECTIONS_MAX * PUSH_WINDOW_MAX);
  }

  /** Opens the index, recovers every shuffle (truncating torn tails) and removes orphaned files. */
  static async open(cfg: ServerConfig, log: Logger, metrics: ServerMetrics): Promise<ShuffleService> {
    const tiers = TierSet.fromConfig(cfg);
    await tiers.checkDirs();
    const degraded = tiers.tiers.filter((t) => t.kind === 'pmem' && !t.writesThroughPmem);
    if (degraded.length > 0) {
      log.warn('pmem tier written with ordinary file writes and fdatasync', { tiers: degraded.map((t) => t.label), reason: nativeStatus().reason });
    }
    metrics.trackTiers(tiers);
    const index = await ShuffleIndex.open(join(cfg.dataDir, 'index'));
    const svc = new ShuffleService(cfg, tiers, index, log, metrics);
    await svc.recover();
    await svc.refreshDiskFree();
    svc.housekeeping = setInterval(() => svc.housekeep(), HOUSEKEEPING_INTERVAL_MS);
    svc.housekeeping.unref();
    svc.expiry = setInterval(() => void svc.expireApps(Date.now()), cfg.expiryCheckIntervalMs);
    svc.expiry.unref();
    return svc;
  }

  private async recover(): Promise<void> {
    const now = Date.now();
    for (const appId of await this.index.listApps()) this.apps.set(appId, { appId, lastSeenMs: now, shuffles: new Map() });
    let torn = 0;
    // Shuffles whose files fail validation are not served (readers get
    // UNKNOWN_SHUFFLE and the engine recomputes), but their files are kept for
    // inspection rather than swept up as orphans.
    const quarantined = new Set<string>();
    for (const entry of await this.index.listShuffles()) {
      let app = this.apps.get(entry.appId);
      if (app === undefined) {
        app = { appId: entry.appId, lastSeenMs: now, shuffles: new Map() };
        this.apps.set(entry.appId, app);
      }
      try {
        const segments = await this.index.listSegments(entry.appId, entry.shuffleId);
        const log = await SegmentLog.open(this.logOptions(entry.appId, entry.shuffleId), segments);
        torn += log.recoveredTornBytes;
        const commits = await this.index.listCommits(entry.appId, entry.shuffleId);
        app.shuffles.set(entry.shuffleId, new Shuffle(entry, log, commits, this.shuffleDeps()));
        this.shuffleCount++;
      } catch (err) {
        quarantined.add(`${entry.appId}/${entry.shuffleId}`);
        const code = err instanceof PegasusError ? err.code : 'INTERNAL';
        this.metrics.recoveryFailures.inc();
        this.log.error('shuffle not recovered', { appId: entry.appId, shuffleId: entry.shuffleId, code, error: String(err) });
      }
    }
    this.metrics.tornTailBytes.inc(torn);
    let orphans = 0;
    for (const tier of this.tiers.tiers) {
      for (const dir of await listShuffleDirs(tier.path)) {
        if (this.apps.get(dir.appId)?.shuffles.has(dir.shuffleId) !== true && !quarantined.has(`${dir.appId}/${dir.shuffleId}`)) {
          await rm(dir.dir, { recursive: true, force: true });
          orphans++;
        }
      }
      for (const dir of await listAppDirs(tier.path)) {
        if (!this.apps.has(dir.appId)) await removeAppDir(tier.path, dir.appId);
      }
    }
    this.log.info('recovered', { apps: this.apps.size, shuffles: this.shuffleCount, tornTailBytes: torn, orphanDirsRemoved: orphans, quarantined: quarantined.size });
  }

  private logOptions(appId: string, shuffleId: number) {
    return { dataDir: this.cfg.dataDir, appId, shuffleId, segmentBytesMax: this.cfg.segmentBytesMax, tiers: this.tiers };
  }

  private shuffleDeps() {
    return { index: this.index, budget: this.budget, metrics: this.metrics, commitFlushDelayMs: this.cfg.commitFlushDelayMs };
  }

  // ---------------------------------------------------------------------------
  // Applications and shuffles

  private checkRunning(): void {
    if (this.stopping) throw new PegasusError(ErrorCode.SHUTTING_DOWN, 'server is stopping');
  }

  /** Registers the application if new and marks it alive. */
  async heartbeat(appId: string): Promise<void> {
    this.checkRunning();
    await this.touchApp(appId, true);
  }

  private async touchApp(appId: string, create: boolean): Promise<App> {
    checkAppId(appId);
    let app = this.apps.get(appId);
    if (app === undefined) {
      if (!create) throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${appId} is not registered`);
      if (this.apps.size >= APPS_MAX) throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${APPS_MAX} applications`);
      app = { appId, lastSeenMs: Date.now(), shuffles: new Map() };
      this.apps.set(appId, app);
      await this.index.putApp(appId);
      this.log.info('app registered', { appId });
    }
    app.lastSeenMs = Date.now();
    return app;
  }

  /** Registers a shuffle; concurrent registers of the same shuffle run one after the other. */
  async registerShuffle(m: RegisterShuffle): Promise<void> {
    const key = `${m.appId}/${m.shuffleId}`;
    for (let prior = this.registering.get(key); prior !== undefined; prior = this.registering.get(key)) {
      await prior.catch(() => undefined);
    }
    const work = this.registerShuffleOnce(m);
    this.registering.set(key, work);
    try {
      await work;
    } finally {
      if (this.registering.get(key) === work) this.registering.delete(key);
    }
  }

  private async registerShuffleOnce(m: RegisterShuffle): Promise<void> {
    this.checkRunning();
    if (m.numPartitions < 1 || m.numPartitions > PARTITIONS_PER_SHUFFLE_MAX) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `num_partitions ${m.numPartitions} not in 1..${PARTITIONS_PER_SHUFFLE_MAX}`);
    }
    if (m.numMaps < 1 || m.numMaps > MAPS_PER_SHUFFLE_MAX) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `num_maps ${m.numMaps} not in 1..${MAPS_PER_SHUFFLE_MAX}`);
    }
    const app = await this.touchApp(m.appId, true);
    const existing = app.shuffles.get(m.shuffleId);
    if (existing !== undefined) {
      if (existing.numMaps !== m.numMaps || existing.numPartitions !== m.numPartitions) {
        throw new PegasusError(ErrorCode.CONFLICT, `shuffle ${m.appId}/${m.shuffleId} exists with ${existing.numMaps} maps and ${existing.numPartitions} partitions, not ${m.numMaps} and ${m.numPartitions}`);
      }
      return;
    }
    if (this.shuffleCount >= SHUFFLES_MAX) throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${SHUFFLES_MAX} shuffles`);
    const entry = { appId: m.appId, shuffleId: m.shuffleId, numMaps: m.numMaps, numPartitions: m.numPartitions, createdAtMs: Date.now() };
    const log = await SegmentLog.open(this.logOptions(m.appId, m.shuffleId), []);
    await this.index.putShuffle(entry);
    if (this.apps.get(m.appId) !== app) {
      // The application was removed while this register awaited.
      await log.remove();
      throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${m.appId} was removed during registration`);
    }
    app.shuffles.set(m.shuffleId, new Shuffle(entry, log, [], this.shuffleDeps()));
    this.shuffleCount++;
    this.log.info('shuffle registered', { appId: m.appId, shuffleId: m.shuffleId, numMaps: m.numMaps, numPartitions: m.numPartitions });
  }

  private shuffle(appId: string, shuffleId: number): Shuffle {
    checkAppId(appId);
    const app = this.apps.get(appId);
    if (app === undefined) throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${appId} is not registered`);
    app.lastSeenMs = Date.now();
    const s = app.shuffles.get(shuffleId);
    if (s === undefined) throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} is not registered`);
    return s;
  }

  async unregisterShuffle(appId: string, shuffleId: number): Promise<void> {
    checkAppId(appId);
    const app = this.apps.get(appId);
    const s = app?.shuffles.get(shuffleId);
    if (app === undefined || s === undefined) return;
    app.shuffles.delete(shuffleId);
    this.shuffleCount--;
    const diskBytes = s.diskBytes();
    await s.remove();
    this.log.info('shuffle removed', { appId, shuffleId, diskBytes });
  }

  async unregisterApp(appId: string, reason = 'unregistered'): Promise<void> {
    checkAppId(appId);
    const app = this.apps.get(appId);
    if (app === undefined) return;
    this.apps.delete(appId);
    for (const [id, s] of app.shuffles) {
      this.shuffleCount--;
      await s.remove().catch((err: unknown) => this.log.error('shuffle removal failed', { appId, shuffleId: id, error: String(err) }));
    }
    await this.index.deleteApp(appId);
    for (const tier of this.tiers.tiers) await removeAppDir(tier.path, appId);
    this.log.info('app removed', { appId, reason, shuffles: app.shuffles.size });
  }

  async expireApps(nowMs: number): Promise<string[]> {
    const expired = [...this.apps.values()].filter((a) => nowMs - a.lastSeenMs > this.cfg.appExpiryMs).map((a) => a.appId);
    for (const appId of expired) {
      this.metrics.expiredApps.inc();
      await this.unregisterApp(appId, 'heartbeat expired').catch((err: unknown) => this.log.error('app expiry failed', { appId, error: String(err) }));
    }
    return expired;
  }

  // ---------------------------------------------------------------------------
  // Push, commit, read

  /**
   * Stores one push. `body` is only valid during this call's synchronous part,
   * so it is checked and copied before the first await. Resolves when the
   * blocks are buffered: that is when the client may be acknowledged.
   */
  async push(m: PushBlocks, body: Buffer): Promise<void> {
    this.checkRunning();
    const s = this.shuffle(m.appId, m.shuffleId);
    if (!s.checkPush(m.blocks)) {
      this.metrics.duplicatePushes.inc();
      return;
    }
    let pos = 0;
    for (let i = 0; i < m.blocks.length; i++) {
      const h = m.blocks[i]!;
      if (h.storedLength > BLOCK_BYTES_MAX || h.rawLength > BLOCK_BYTES_MAX) {
        throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `block ${i} is ${h.storedLength} stored / ${h.rawLength} raw bytes, limit ${BLOCK_BYTES_MAX}`);
      }
      const actual = crc32c(body.subarray(pos, pos + h.storedLength));
      if (actual !== h.crc32c) {
        throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `block ${i} (map ${h.mapId} partition ${h.partition} batch ${h.batch}) has CRC32C ${actual.toString(16)}, header says ${h.crc32c.toString(16)}`);
      }
      pos += h.storedLength;
    }
    if (this.diskFull) {
      throw new PegasusError(ErrorCode.DISK_FULL, `data directory is full: a flush failed with no space left; ${this.budget.used} bytes wait in memory for room`);
    }
    // Active segments may still have room, so a full capacity alone refuses nothing
    // here: the flush that cannot place a new segment is DISK_FULL (diskFull above).
    if (!this.tiers.hasRoom(0)) {
      throw new PegasusError(ErrorCode.DISK_FULL, `no storage tier has free space above the reserve of ${this.cfg.diskReserveBytes} bytes: ${this.tiers.tiers.map((t) => t.describe()).join('; ')}`);
    }
    const data = Buffer.allocUnsafeSlow(body.length);
    body.copy(data);
    if (!this.budget.tryReserve(data.length)) {
      this.relievePressure();
      await this.budget.reserve(data.length);
    }
    if (!s.accept(m.blocks, data)) {
      this.metrics.duplicatePushes.inc();
      return;
    }
    this.metrics.pushedBytes.inc(data.length);
    this.metrics.pushedBlocks.inc(m.blocks.length);
    if (this.budget.used >= this.cfg.memoryBudgetBytes * this.cfg.flushThresholdRatio) this.relievePressure();
  }

  async commit(m: CommitMap): Promise<CommitOutcome> {
    this.checkRunning();
    const s = this.shuffle(m.appId, m.shuffleId);
    let outcome: CommitOutcome;
    try {
      outcome = await s.commit(m.mapId, m.attempt, m.batchCount);
    } catch (err) {
      this.noteFlushError(err);
      throw err;
    }
    this.metrics.commits.inc(1, { result: outcome.won ? 'won' : 'lost' });
    return outcome;
  }

  /** The shuffle a read names, after checking its ranges. */
  private readTarget(m: OpenRead | PlanRead): Shuffle {
    const s = this.shuffle(m.appId, m.shuffleId);
    if (m.partitionStart > m.partitionEnd || m.partitionEnd > s.numPartitions) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `partition range [${m.partitionStart}, ${m.partitionEnd}) not within [0, ${s.numPartitions})`);
    }
    if (m.mapStart > m.mapEnd || m.mapEnd > s.numMaps) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `map range [${m.mapStart}, ${m.mapEnd}) not within [0, ${s.numMaps})`);
    }
    return s;
  }

  /** Validates a read and returns the stream of its blocks. */
  openRead(m: OpenRead): AsyncGenerator<StoredBlock> {
    const s = this.readTarget(m);
    return s.readBlocks(m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd, this.cfg.readAheadBytes);
  }

  /** Validates a one-sided read and plans it (Shuffle.planRuns), within the ReadPlan limits. */
  async planRead(m: PlanRead): Promise<{ shuffle: Shuffle } & Awaited<ReturnType<Shuffle['planRuns']>>> {
    const s = this.readTarget(m);
    const plan = await s.planRuns(m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd);
    const over = (what: string, n: number, max: number): never => {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `a UCX read of partitions [${m.partitionStart}, ${m.partitionEnd}) maps [${m.mapStart}, ${m.mapEnd}) needs ${n} ${what}, limit ${max} per ReadPlan; read a smaller range or over WebSocket`);
    };
    if (plan.runs.length > RUNS_PER_PLAN_MAX) over('runs', plan.runs.length, RUNS_PER_PLAN_MAX);
    if (plan.segments.length > REGIONS_PER_PLAN_MAX) over('segments', plan.segments.length, REGIONS_PER_PLAN_MAX);
    if (plan.commits.length > COMMITS_PER_PLAN_MAX) over('map commits', plan.commits.length, COMMITS_PER_PLAN_MAX);
    return { shuffle: s, ...plan };
  }

  // ---------------------------------------------------------------------------
  // Memory pressure, disk space, housekeeping

  /** Starts flushes of the shuffles holding the most buffered bytes, up to PRESSURE_FLUSHES_MAX at once. */
  private relievePressure(): void {
    if (this.diskFull) return; // housekeeping retries once the disk has room again
    const threshold = this.cfg.memoryBudgetBytes * this.cfg.flushThresholdRatio;
    while (this.pressureFlushes < PRESSURE_FLUSHES_MAX && (this.budget.used >= threshold || this.budget.waiterCount > 0)) {
      let biggest: Shuffle | null = null;
      for (const app of this.apps.values()) {
        for (const s of app.shuffles.values()) {
          if (!s.hasQueuedFlush && s.bufferedBytes > 0 && (biggest === null || s.bufferedBytes > biggest.bufferedBytes)) biggest = s;
        }
      }
      if (biggest === null) return;
      this.pressureFlushes++;
      const target = biggest;
      target.flush()
        .catch((err: unknown) => {
          const code = err instanceof PegasusError ? err.code : 'INTERNAL';
          this.log.error('flush failed', { appId: target.appId, shuffleId: target.shuffleId, code, error: String(err) });
          if (err instanceof PegasusError && err.wireCode === ErrorCode.DISK_FULL) this.enterDiskFull();
          void this.refreshDiskFree();
        })
        .finally(() => {
          this.pressureFlushes--;
          if (boundGarbage(this.budget.used + this.budget.waiting)) this.metrics.forcedCollections.inc();
          this.relievePressure();
        });
    }
  }

  private enterDiskFull(): void {
    if (!this.diskFull) this.log.error('disk full, refusing pushes', { bufferedBytes: this.budget.used, tiers: this.tiers.tiers.map((t) => t.describe()) });
    this.diskFull = true;
    this.budget.rejectAll(new PegasusError(ErrorCode.DISK_FULL, 'data directory is full; the push was not stored'));
  }

  /** Any flush that hits ENOSPC (pressure or commit) puts the server in the disk-full state. */
  noteFlushError(err: unknown): void {
    if (err instanceof PegasusError && err.wireCode === ErrorCode.DISK_FULL) this.enterDiskFull();
  }

  private housekeep(): void {
    void this.refreshDiskFree().then(() => this.relievePressure());
  }

  private async refreshDiskFree(): Promise<void> {
    await this.tiers.refreshFree();
    if (this.diskFull && this.tiers.hasRoom(this.cfg.segmentBytesMax, this.budget.used)) {
      this.diskFull = false;
      this.log.info('a storage tier has room again, taking pushes', { tiers: this.tiers.tiers.map((t) => t.describe()), bufferedBytes: this.budget.used });
    }
  }

  // ---------------------------------------------------------------------------
  // Introspection and stop

  get isStopping(): boolean {
    return this.stopping;
  }

  appCount(): number {
    return this.apps.size;
  }

  shuffles(): Shuffle[] {
    const out: Shuffle[] = [];
    for (const app of this.apps.values()) out.push(...app.shuffles.values());
    return out;
  }

  diskBytes(): number {
    let n = 0;
    for (const s of this.shuffles()) n += s.diskBytes();
    return n;
  }

  /** Graceful stop: refuse new work, flush every shuffle, close files and the index. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    if (this.expiry !== null) clearInterval(this.expiry);
    this.budget.rejectAll(new PegasusError(ErrorCode.SHUTTING_DOWN, 'server is stopping'));
    for (const s of this.shuffles()) {
      await s.close().catch((err: unknown) => this.log.error('shuffle close failed', { appId: s.appId, shuffleId: s.shuffleId, error: String(err) }));
    }
    await this.index.close();
    this.log.info('store closed', { apps: this.apps.size, shuffles: this.shuffleCount });
  }
}
