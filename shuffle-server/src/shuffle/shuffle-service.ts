// The shuffle service: applications, their shuffles, pushes, commits and reads,
// one memory budget, expiry and recovery. The network layer calls only this.
import { join } from 'node:path';
import { crc32c } from '../../../native/ts/crc32c.js';
import { nativeStatus } from '../../../native/ts/index.js';
import { checkAppId } from '../../../schemas/ts/ids.js';
import type { CommitMap, OpenRead, PlanRead, PushBlocks, RegisterShuffle } from '../../../schemas/ts/messages.js';
import type { ServerConfig } from '../config.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { ShuffleIndex } from '../index/shuffle-index.js';
import {
  APPS_MAX, BLOCK_BYTES_MAX, COMMITS_PER_PLAN_MAX, CONNECTIONS_MAX, ORPHANS_PER_CLEANUP_MAX, REGIONS_PER_PLAN_MAX, RUNS_PER_PLAN_MAX, MAPS_PER_SHUFFLE_MAX,
  PARTITIONS_PER_SHUFFLE_MAX, PUSH_WINDOW_MAX, SHUFFLES_MAX, VERIFY_ERRORS_MAX,
} from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { SegmentLog } from '../store/segment-log.js';
import { findOrphans, removeOrphans, type Orphan, type OrphanJudge } from '../store/orphans.js';
import { removeAppDir } from '../store/shuffle-dirs.js';
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

/**
 * Decommissioning: active -> decommissioning (no new shuffles; existing ones
 * are pushed to, committed and read as before) -> drained (decommissioning and
 * no shuffle left). Back to active on request. Not persisted: a restarted
 * server is active.
 */
export interface AppInfo {
  appId: string;
  lastSeenMs: number;
  idleMs: number;
  shuffles: number;
  diskBytes: number;
}

export interface ShuffleInfo {
  appId: string;
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
  committedMaps: number;
  diskBytes: number;
  bufferedBytes: number;
  pushedBytes: number;
  createdAtMs: number;
  lastActivityMs: number;
}

export type DecommissionState = 'active' | 'decommissioning' | 'drained';

export interface CleanupRequest {
  expired: boolean;
  orphans: boolean;
  dryRun: boolean;
}

export interface CleanupResult {
  dryRun: boolean;
  expiredApps: string[];
  orphans: Array<{ path: string; bytes: number }>;
  freedBytes: number;
}

export interface VerifyResult {
  shuffles: number;
  runs: number;
  blocks: number;
  bytes: number;
  errors: Array<{ appId: string; shuffleId: number; code: string; message: string }>;
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
  private decommissioning = false;
  /**
   * Shuffles whose files failed validation at start: not served, and their
   * files kept for inspection rather than swept up as orphans.
   */
  private readonly quarantined = new Set<string>();

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
    metrics.registry.gauge('pegasus_flush_queue_depth', 'Shuffles with a flush queued or running.', () => svc.flushQueueDepth());
    metrics.registry.gauge('pegasus_decommissioning', 'Whether the server is decommissioning or drained (1) or active (0).', () => (svc.decommissioning ? 1 : 0));
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
    const quarantined = this.quarantined;
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
    // The same sweep as the admin cleanup's, unbounded: nothing else runs yet.
    const judge = this.orphanJudge();
    const orphans = await removeOrphans(await findOrphans(this.tiers, judge, Number.MAX_SAFE_INTEGER), judge);
    this.log.info('recovered', {
      apps: this.apps.size, shuffles: this.shuffleCount, tornTailBytes: torn, orphansRemoved: orphans.length,
      orphanBytesRemoved: orphans.reduce((n, o) => n + o.bytes, 0), quarantined: quarantined.size,
    });
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
    // Checked before the application is created, and again after that await.
    if (this.decommissioning && this.apps.get(m.appId)?.shuffles.has(m.shuffleId) !== true) throw this.decommissioningError(m.appId, m.shuffleId);
    const app = await this.touchApp(m.appId, true);
    const existing = app.shuffles.get(m.shuffleId);
    if (existing === undefined && this.decommissioning) throw this.decommissioningError(m.appId, m.shuffleId);
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

  /** Applications silent for longer than appExpiryMs at `nowMs`. */
  private expiredAppIds(nowMs: number): string[] {
    return [...this.apps.values()].filter((a) => nowMs - a.lastSeenMs > this.cfg.appExpiryMs).map((a) => a.appId);
  }

  async expireApps(nowMs: number): Promise<string[]> {
    const expired = this.expiredAppIds(nowMs);
    for (const appId of expired) {
      // An earlier removal awaited: the app may have heart-beaten or gone meanwhile.
      const app = this.apps.get(appId);
      if (app === undefined || nowMs - app.lastSeenMs <= this.cfg.appExpiryMs) continue;
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
  // Decommissioning

  private decommissioningError(appId: string, shuffleId: number): PegasusError {
    return new PegasusError(ErrorCode.DECOMMISSIONING, `server is decommissioning and takes no new shuffles; shuffle ${appId}/${shuffleId} is not on it: register it on another server`);
  }

  get decommissionState(): DecommissionState {
    if (!this.decommissioning) return 'active';
    return this.shuffleCount === 0 ? 'drained' : 'decommissioning';
  }

  decommissionStatus(): { state: DecommissionState; shuffles: number } {
    return { state: this.decommissionState, shuffles: this.shuffleCount };
  }

  /** Starts decommissioning (idempotent): new shuffles are refused with DECOMMISSIONING. */
  startDecommission(): { state: DecommissionState; shuffles: number } {
    this.checkRunning();
    if (!this.decommissioning) this.log.warn('decommissioning: no new shuffles', { shuffles: this.shuffleCount });
    this.decommissioning = true;
    return this.decommissionStatus();
  }

  /** Back to active (idempotent). */
  stopDecommission(): { state: DecommissionState; shuffles: number } {
    if (this.decommissioning) this.log.warn('decommissioning cancelled: taking new shuffles', { shuffles: this.shuffleCount });
    this.decommissioning = false;
    return this.decommissionStatus();
  }

  // ---------------------------------------------------------------------------
  // Cleanup and verify (admin API)

  /** What the server holds, for the orphan sweep; `registering` covers shuffles between their first await and their insertion. */
  private orphanJudge(): OrphanJudge {
    const registeringApp = (appId: string): boolean => {
      for (const key of this.registering.keys()) if (key.startsWith(`${appId}/`)) return true;
      return false;
    };
    return {
      appHeld: (appId) => this.apps.has(appId) || registeringApp(appId),
      shuffleHeld: (appId, shuffleId) => {
        const key = `${appId}/${shuffleId}`;
        return this.apps.get(appId)?.shuffles.has(shuffleId) === true || this.quarantined.has(key) || this.registering.has(key);
      },
      segmentOrphaned: (appId, shuffleId, segmentId) => this.apps.get(appId)?.shuffles.get(shuffleId)?.claimUnindexedSegment(segmentId) === true,
    };
  }

  /**
   * Removes (or, with dryRun, lists) expired applications and orphaned files.
   * Expired applications go first, so their directories are never reported as
   * orphans too.
   */
  async cleanup(req: CleanupRequest): Promise<CleanupResult> {
    this.checkRunning();
    const result: CleanupResult = { dryRun: req.dryRun, expiredApps: [], orphans: [], freedBytes: 0 };
    if (req.expired) {
      const now = Date.now();
      const candidates = this.expiredAppIds(now);
      if (req.dryRun) {
        result.expiredApps = candidates;
        for (const appId of candidates) result.freedBytes += this.appDiskBytes(this.apps.get(appId)!);
      } else {
        const bytes = new Map(candidates.map((id) => [id, this.appDiskBytes(this.apps.get(id)!)]));
        result.expiredApps = await this.expireApps(now);
        for (const id of result.expiredApps) result.freedBytes += bytes.get(id) ?? 0;
      }
    }
    if (req.orphans) {
      const judge = this.orphanJudge();
      let orphans: Orphan[] = await findOrphans(this.tiers, judge, ORPHANS_PER_CLEANUP_MAX);
      if (!req.dryRun) {
        orphans = await removeOrphans(orphans, judge);
        if (orphans.length > 0) this.log.warn('orphans removed', { count: orphans.length, bytes: orphans.reduce((n, o) => n + o.bytes, 0) });
      }
      result.orphans = orphans.map((o) => ({ path: o.path, bytes: o.bytes }));
      for (const o of orphans) result.freedBytes += o.bytes;
    }
    return result;
  }

  /**
   * Re-reads and checks the stored runs of the named shuffles (all when
   * `appId` is undefined; every shuffle of the app when `shuffleId` is).
   * UNKNOWN_APP / UNKNOWN_SHUFFLE when a named one is not registered.
   */
  async verify(appId: string | undefined, shuffleId: number | undefined): Promise<VerifyResult> {
    this.checkRunning();
    let targets: Shuffle[];
    if (appId === undefined) {
      if (shuffleId !== undefined) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'verify of a shuffle needs its app');
      targets = this.shuffles();
    } else {
      const app = this.getApp(appId);
      if (shuffleId === undefined) targets = [...app.shuffles.values()];
      else {
        const s = app.shuffles.get(shuffleId);
        if (s === undefined) throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} is not registered`);
        targets = [s];
      }
    }
    const result: VerifyResult = { shuffles: 0, runs: 0, blocks: 0, bytes: 0, errors: [] };
    let errorCount = 0;
    for (const s of targets) {
      if (this.stopping) break;
      if (s.isRemoved) continue;
      const counts = await s.verify(this.cfg.readAheadBytes, (err) => {
        errorCount++;
        if (result.errors.length < VERIFY_ERRORS_MAX) result.errors.push({ appId: s.appId, shuffleId: s.shuffleId, code: err.code, message: err.message });
      });
      result.shuffles++;
      result.runs += counts.runs;
      result.blocks += counts.blocks;
      result.bytes += counts.bytes;
    }
    if (errorCount > 0) this.log.error('verify found errors', { appId, shuffleId, errors: errorCount, shuffles: result.shuffles });
    return result;
  }

  // ---------------------------------------------------------------------------
  // Listing (admin API)

  private getApp(appId: string): App {
    checkAppId(appId);
    const app = this.apps.get(appId);
    if (app === undefined) throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${appId} is not registered`);
    return app;
  }

  private appDiskBytes(app: App): number {
    let n = 0;
    for (const s of app.shuffles.values()) n += s.diskBytes();
    return n;
  }

  private appInfo(app: App, nowMs: number): AppInfo {
    return { appId: app.appId, lastSeenMs: app.lastSeenMs, idleMs: Math.max(0, nowMs - app.lastSeenMs), shuffles: app.shuffles.size, diskBytes: this.appDiskBytes(app) };
  }

  listApps(): AppInfo[] {
    const now = Date.now();
    return [...this.apps.values()].map((a) => this.appInfo(a, now)).sort((a, b) => (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : 0));
  }

  /** One application (UNKNOWN_APP when not registered); does not count as a sign of life. */
  describeApp(appId: string): AppInfo & { shuffleIds: number[] } {
    const app = this.getApp(appId);
    return { ...this.appInfo(app, Date.now()), shuffleIds: [...app.shuffles.keys()].sort((a, b) => a - b) };
  }

  /** The shuffles of one application (UNKNOWN_APP when not registered) or of all. */
  listShuffles(appId?: string): ShuffleInfo[] {
    const list = appId === undefined ? this.shuffles() : [...this.getApp(appId).shuffles.values()];
    return list.map((s) => ({
      appId: s.appId, shuffleId: s.shuffleId, numMaps: s.numMaps, numPartitions: s.numPartitions, committedMaps: s.committedMaps,
      diskBytes: s.diskBytes(), bufferedBytes: s.bufferedBytes, pushedBytes: s.pushedBytes, createdAtMs: s.createdAtMs, lastActivityMs: s.lastActivityMs,
    })).sort((a, b) => (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : a.shuffleId - b.shuffleId));
  }

  /** Removes an application on admin request; UNKNOWN_APP when not registered. */
  async removeApp(appId: string): Promise<{ appId: string; shuffles: number; diskBytes: number }> {
    const app = this.getApp(appId);
    const removed = { appId, shuffles: app.shuffles.size, diskBytes: this.appDiskBytes(app) };
    await this.unregisterApp(appId, 'admin request');
    return removed;
  }

  /** Removes a shuffle on admin request; UNKNOWN_SHUFFLE when it (or its application) is not registered. */
  async removeShuffle(appId: string, shuffleId: number): Promise<{ appId: string; shuffleId: number; diskBytes: number }> {
    checkAppId(appId);
    const s = this.apps.get(appId)?.shuffles.get(shuffleId);
    if (s === undefined) {
      const why = this.apps.has(appId) ? 'is not registered' : `is not registered (nor is application ${appId})`;
      throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} ${why}`);
    }
    const diskBytes = s.diskBytes();
    await this.unregisterShuffle(appId, shuffleId);
    return { appId, shuffleId, diskBytes };
  }

  flushQueueDepth(): number {
    let n = 0;
    for (const app of this.apps.values()) for (const s of app.shuffles.values()) if (s.hasPendingFlush) n++;
    return n;
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
