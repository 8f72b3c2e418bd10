// The shuffle tenant: applications and their shuffles, pushes, commits and
// reads, on the engine. The network layer calls only this; admin views read it
// (admin/shuffle-views.ts).
//
// Application lifecycle is serialized per application id: removing an
// application (unregister, expiry, admin) finishes before the same id can be
// registered again, so a re-registration never races the removal of the old
// one's rows and directories.
import type { DecommissionState, DecommissionStatus } from '../../../schemas/ts/admin-api.js';
import { checkAppId } from '../../../schemas/ts/ids.js';
import type { CommitMap, OpenRead, PlanRead, PushBlocks, RegisterShuffle } from '../../../schemas/ts/messages.js';
import type { ServerConfig } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { PushWindow } from '../engine/memory-budget.js';
import type { OrphanJudge } from '../engine/orphans.js';
import type { StoredBlock } from '../engine/types.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { APPS_MAX, MAPS_PER_SHUFFLE_MAX, PARTITIONS_PER_SHUFFLE_MAX, SHUFFLES_MAX } from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { AppRegistry, type App } from './app-registry.js';
import { checkPush } from './push-check.js';
import { planUcxRead, type PlannedRead } from './read-planner.js';

/** What net/ holds of a connection and a planned read: defined below, re-exported so net/ imports only this file. */
export type { PlannedRead, PushWindow, StoredBlock };
import { ShuffleCatalog } from './shuffle-catalog.js';
import { SHUFFLE_TENANT, shuffleGone, shuffleLog } from './shuffle-rows.js';
import { Shuffle, type CommitOutcome } from './shuffle.js';

/**
 * Decommissioning: active -> decommissioning (no new shuffles; existing ones
 * are pushed to, committed and read as before) -> drained (decommissioning and
 * no shuffle left). Back to active on request. Not persisted: a restarted
 * server is active.
 */
export type { DecommissionState };

export class ShuffleService {
  readonly apps = new AppRegistry();
  readonly catalog: ShuffleCatalog;
  private readonly registering = new Map<string, Promise<void>>();
  /** Applications being removed: a new registration of the id waits for it. */
  private readonly removing = new Map<string, Promise<void>>();
  private stopping = false;
  private expiry: NodeJS.Timeout | null = null;
  private decommissioning = false;
  /**
   * Shuffles whose files failed validation at start: not served, and their
   * files kept for inspection rather than swept up as orphans.
   */
  private readonly quarantined = new Set<string>();

  private constructor(
    private readonly cfg: ServerConfig,
    readonly engine: Engine,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    this.catalog = new ShuffleCatalog(engine.catalog);
    engine.flusher.addSources(() => this.apps.shuffles());
  }

  /** Recovers every shuffle of the engine's catalog (truncating torn tails) and removes orphaned files. */
  static async open(cfg: ServerConfig, engine: Engine, log: Logger, metrics: ServerMetrics): Promise<ShuffleService> {
    const svc = new ShuffleService(cfg, engine, log, metrics);
    metrics.registry.gauge('pegasus_decommissioning', 'Whether the server is decommissioning or drained (1) or active (0).', () => (svc.decommissioning ? 1 : 0));
    await svc.recover();
    svc.expiry = setInterval(() => void svc.expireApps(Date.now()), cfg.expiryCheckIntervalMs);
    svc.expiry.unref();
    return svc;
  }

  private async recover(): Promise<void> {
    const now = Date.now();
    for (const appId of await this.catalog.listApps()) this.apps.add(appId, now);
    let torn = 0;
    for (const entry of await this.catalog.listShuffles()) {
      const app = this.apps.get(entry.appId) ?? this.apps.add(entry.appId, now);
      try {
        const segments = await this.catalog.listSegments(entry.appId, entry.shuffleId);
        const log = await this.engine.openLog(shuffleLog(entry.appId, entry.shuffleId), segments, () => shuffleGone(entry.appId, entry.shuffleId));
        torn += log.recoveredTornBytes;
        const commits = await this.catalog.listCommits(entry.appId, entry.shuffleId);
        this.apps.addShuffle(app, new Shuffle(entry, log, commits, this.shuffleDeps()));
      } catch (err) {
        // Not served (readers get UNKNOWN_SHUFFLE and the engine recomputes), but
        // the files are kept for inspection rather than swept up as orphans.
        this.quarantined.add(`${entry.appId}/${entry.shuffleId}`);
        const code = err instanceof PegasusError ? err.code : 'INTERNAL';
        this.metrics.recoveryFailures.inc();
        this.log.error('shuffle not recovered', { appId: entry.appId, shuffleId: entry.shuffleId, code, error: String(err) });
      }
    }
    this.metrics.tornTailBytes.inc(torn);
    // The same sweep as the admin cleanup's, unbounded: nothing else runs yet.
    const orphans = await this.engine.sweepOrphans(this.orphanJudge(), Number.MAX_SAFE_INTEGER, false);
    this.log.info('recovered', {
      apps: this.apps.size, shuffles: this.apps.shuffleCount, tornTailBytes: torn, orphansRemoved: orphans.length,
      orphanBytesRemoved: orphans.reduce((n, o) => n + o.bytes, 0), quarantined: this.quarantined.size,
    });
  }

  private shuffleDeps() {
    return { engine: this.engine, catalog: this.catalog, metrics: this.metrics, commitFlushDelayMs: this.cfg.commitFlushDelayMs };
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
    // A removal of this id in progress finishes first (its rows and directories go).
    for (let r = this.removing.get(appId); r !== undefined; r = this.removing.get(appId)) await r;
    this.checkRunning();
    let app = this.apps.get(appId);
    if (app === undefined) {
      if (!create) throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${appId} is not registered`);
      if (this.apps.size >= APPS_MAX) throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${APPS_MAX} applications`);
      app = this.apps.add(appId, Date.now());
      await this.catalog.putApp(appId);
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
    if (this.apps.shuffleCount >= SHUFFLES_MAX) throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${SHUFFLES_MAX} shuffles`);
    const entry = { appId: m.appId, shuffleId: m.shuffleId, numMaps: m.numMaps, numPartitions: m.numPartitions, createdAtMs: Date.now() };
    const log = await this.engine.openLog(shuffleLog(m.appId, m.shuffleId), [], () => shuffleGone(m.appId, m.shuffleId));
    await this.catalog.putShuffle(entry);
    if (this.apps.get(m.appId) !== app) {
      // The application was removed while this register awaited.
      await this.engine.removeLog(log);
      throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${m.appId} was removed during registration`);
    }
    this.apps.addShuffle(app, new Shuffle(entry, log, [], this.shuffleDeps()));
    this.log.info('shuffle registered', { appId: m.appId, shuffleId: m.shuffleId, numMaps: m.numMaps, numPartitions: m.numPartitions });
  }

  async unregisterShuffle(appId: string, shuffleId: number): Promise<void> {
    checkAppId(appId);
    const app = this.apps.get(appId);
    if (app === undefined) return;
    const s = this.apps.deleteShuffle(app, shuffleId);
    if (s === undefined) return;
    const diskBytes = s.diskBytes();
    await s.remove();
    this.log.info('shuffle removed', { appId, shuffleId, diskBytes });
  }

  async unregisterApp(appId: string, reason = 'unregistered'): Promise<void> {
    checkAppId(appId);
    const prior = this.removing.get(appId);
    if (prior !== undefined) return prior;
    const app = this.apps.delete(appId);
    if (app === undefined) return;
    const work = this.removeApp(app, reason);
    this.removing.set(appId, work);
    try {
      await work;
    } finally {
      this.removing.delete(appId);
    }
  }

  private async removeApp(app: App, reason: string): Promise<void> {
    for (const [id, s] of app.shuffles) {
      await s.remove().catch((err: unknown) => this.log.error('shuffle removal failed', { appId: app.appId, shuffleId: id, error: String(err) }));
    }
    await this.engine.removeOwner(SHUFFLE_TENANT.name, app.appId);
    this.log.info('app removed', { appId: app.appId, reason, shuffles: app.shuffles.size });
  }

  /** Applications silent for longer than appExpiryMs at `nowMs`. */
  expiredAppIds(nowMs: number): string[] {
    return this.apps.expiredIds(nowMs, this.cfg.appExpiryMs);
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

  /** A connection's share of the memory budget's in-flight reserve, for push(). */
  openPushWindow(): PushWindow {
    return this.engine.openPushWindow(this.cfg.pushWindow);
  }

  /**
   * Stores one push. `body` is only valid during this call's synchronous part,
   * so it is checked and copied before the first await. Resolves when the
   * blocks are buffered: that is when the client may be acknowledged.
   */
  async push(m: PushBlocks, body: Buffer, window: PushWindow): Promise<void> {
    this.checkRunning();
    window.note(body.length);
    const s = this.apps.shuffle(m.appId, m.shuffleId);
    checkPush(s, m.blocks, body);
    if (!s.needsPush(m.blocks)) {
      this.metrics.duplicatePushes.inc();
      return;
    }
    const flusher = this.engine.flusher;
    if (!this.engine.needsRoom()) flusher.checkRoom();
    const pool = this.engine.pushBuffers;
    const data = pool.copyOf(body);
    try {
      if (this.engine.needsRoom()) {
        // Short of space: cache files give way first (objects tenant); then the usual check.
        await this.engine.ensureRoom();
        flusher.checkRoom();
      }
      await flusher.admit(data.capacity);
    } catch (err) {
      pool.release(data);
      throw err;
    }
    let accepted = false;
    try {
      accepted = s.accept(m.blocks, data);
    } finally {
      if (!accepted) pool.release(data);
    }
    if (!accepted) {
      this.metrics.duplicatePushes.inc();
      return;
    }
    this.metrics.pushedBytes.inc(body.length);
    this.metrics.pushedBlocks.inc(m.blocks.length);
    flusher.afterBuffered();
  }

  async commit(m: CommitMap): Promise<CommitOutcome> {
    this.checkRunning();
    const s = this.apps.shuffle(m.appId, m.shuffleId);
    let outcome: CommitOutcome;
    try {
      outcome = await s.commit(m.mapId, m.attempt, m.batchCount);
    } catch (err) {
      this.engine.flusher.noteError(err);
      throw err;
    }
    this.metrics.commits.inc(1, { result: outcome.won ? 'won' : 'lost' });
    return outcome;
  }

  /** The shuffle a read names, after checking its ranges. */
  private readTarget(m: OpenRead | PlanRead): Shuffle {
    const s = this.apps.shuffle(m.appId, m.shuffleId);
    if (m.partitionStart > m.partitionEnd || m.partitionEnd > s.numPartitions) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `partition range [${m.partitionStart}, ${m.partitionEnd}) not within [0, ${s.numPartitions})`);
    }
    if (m.mapStart > m.mapEnd || m.mapEnd > s.numMaps) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `map range [${m.mapStart}, ${m.mapEnd}) not within [0, ${s.numMaps})`);
    }
    return s;
  }

  /** Validates a read and returns the stream of its blocks, in arrays (one read window each). */
  openRead(m: OpenRead): AsyncGenerator<StoredBlock[]> {
    const s = this.readTarget(m);
    return s.readBlocks(m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd, this.cfg.readAheadBytes);
  }

  /** Validates a one-sided read and plans it (read-planner.ts), holding its segments mapped until released. */
  planRead(m: PlanRead): Promise<PlannedRead> {
    const s = this.readTarget(m);
    return planUcxRead(s, m, this.engine.mappings);
  }

  // ---------------------------------------------------------------------------
  // Decommissioning

  private decommissioningError(appId: string, shuffleId: number): PegasusError {
    return new PegasusError(ErrorCode.DECOMMISSIONING, `server is decommissioning and takes no new shuffles; shuffle ${appId}/${shuffleId} is not on it: register it on another server`);
  }

  get decommissionState(): DecommissionState {
    if (!this.decommissioning) return 'active';
    return this.apps.shuffleCount === 0 ? 'drained' : 'decommissioning';
  }

  decommissionStatus(): DecommissionStatus {
    return { state: this.decommissionState, shuffles: this.apps.shuffleCount };
  }

  /** Starts decommissioning (idempotent): new shuffles are refused with DECOMMISSIONING. */
  startDecommission(): DecommissionStatus {
    this.checkRunning();
    if (!this.decommissioning) this.log.warn('decommissioning: no new shuffles', { shuffles: this.apps.shuffleCount });
    this.decommissioning = true;
    return this.decommissionStatus();
  }

  /** Back to active (idempotent). */
  stopDecommission(): DecommissionStatus {
    if (this.decommissioning) this.log.warn('decommissioning cancelled: taking new shuffles', { shuffles: this.apps.shuffleCount });
    this.decommissioning = false;
    return this.decommissionStatus();
  }

  // ---------------------------------------------------------------------------
  // What the engine's orphan sweep asks

  /** What this tenant holds; `registering` covers shuffles between their first await and their insertion. */
  orphanJudge(): OrphanJudge {
    const registeringApp = (appId: string): boolean => {
      for (const key of this.registering.keys()) if (key.startsWith(`${appId}/`)) return true;
      return false;
    };
    return {
      tenant: SHUFFLE_TENANT.name,
      ownerHeld: (_tenant, appId) => this.apps.has(appId) || registeringApp(appId),
      logHeld: (log) => {
        const key = `${log.owner}/${log.id}`;
        return this.apps.get(log.owner)?.shuffles.has(log.id) === true || this.quarantined.has(key) || this.registering.has(key);
      },
      segmentOrphaned: (log, segmentId) => this.apps.get(log.owner)?.shuffles.get(log.id)?.claimUnindexedSegment(segmentId) === true,
    };
  }

  // ---------------------------------------------------------------------------
  // Introspection and stop

  get isStopping(): boolean {
    return this.stopping;
  }

  diskBytes(): number {
    let n = 0;
    for (const s of this.apps.shuffles()) n += s.diskBytes();
    return n;
  }

  /** Graceful stop: refuse new work, flush every shuffle, close files and the catalog. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.expiry !== null) clearInterval(this.expiry);
    this.engine.beginStop(new PegasusError(ErrorCode.SHUTTING_DOWN, 'server is stopping'));
    for (const s of this.apps.shuffles()) {
      await s.close().catch((err: unknown) => this.log.error('shuffle close failed', { appId: s.appId, shuffleId: s.shuffleId, error: String(err) }));
    }
    await this.engine.close();
    this.log.info('store closed', { apps: this.apps.size, shuffles: this.apps.shuffleCount });
  }
}
