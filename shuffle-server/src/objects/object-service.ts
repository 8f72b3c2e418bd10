// The objects tenant: write-once objects in a path namespace, on the same
// engine (budget, tiers, segment logs, catalog) as shuffles. The only entry
// from net/ for objects (FRAMING.md "Objects").
//
// An object's life: CreateObject checks the path and gives the writer an id
// and a pending row (WRITING); AppendObject bytes go to its own segment log
// through the budget (object-writer.ts); CloseObject writes the rest, makes it
// durable, and then one namespace batch adds its directory entry and drops the
// pending row: from then on every reader on every connection sees the whole
// object (close-to-open). A writer that goes away (connection closed, abort,
// server stopped or killed) never gets an entry; its bytes are reclaimed at
// once, or at the next start from its pending row. Deletes and overwrites
// leave pending rows too, reclaimed before they are answered (or at the next
// start if the server stops first).
import { crc32c } from '../../../native/ts/crc32c.js';
import { Codec, PathKind, type AppendObject, type CreateObject, type ListDir, type OpenObject, type PathInfo } from '../../../schemas/ts/messages.js';
import { LIST_ENTRIES_MAX } from '../../../schemas/ts/limits.js';
import type { ServerConfig } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { OrphanJudge } from '../engine/orphans.js';
import type { SegmentLog } from '../engine/segment-log.js';
import type { StoredBlock } from '../engine/types.js';
import { ErrorCode, PegasusError } from '../errors.js';
import {
  OBJECT_DELETE_BATCH_ENTRIES, OBJECT_EVICTIONS_PER_CHECK, OBJECT_EXPIRIES_PER_CHECK, OBJECT_INLINE_BYTES_MAX, OBJECT_EXPIRY_CHECK_MS, OBJECT_WRITERS_MAX, OBJECT_WRITERS_PER_CONNECTION_MAX,
} from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { Namespace, type QuotaState, type Reclaim, type Usage } from './namespace.js';
import { joinPath, parsePath } from './object-path.js';
import { placeRuns, readObject } from './object-reader.js';
import {
  OBJECTS_TENANT, PendingState, decodePending, encodeInline, inlineKey, objectIdOf, objectLog, pendingIdOf, pendingRange, type Entry,
} from './object-rows.js';
import { ObjectWriter } from './object-writer.js';

export type { StoredBlock };

/** Bytes [offset, offset + length) of an inline file as a read stream's one window of one block (FRAMING.md "Objects"). */
async function* inlineBlocks(bytes: Buffer, offset: number, length: number): AsyncGenerator<StoredBlock[]> {
  if (length === 0) return;
  const part = bytes.subarray(offset, offset + length);
  yield [{
    header: { attempt: offset, mapId: 0, partition: 0, batch: 0, seq: 0, rawLength: part.length, storedLength: part.length, crc32c: crc32c(part), codec: Codec.NONE },
    data: part,
  }];
}

/** The objects one connection is writing; closed with the connection (its writers are aborted). */
export class ObjectConnection {
  private readonly writers = new Map<number, ObjectWriter>();
  private nextHandle = 1;
  private closed = false;

  constructor(private readonly service: ObjectService) {}

  async create(m: CreateObject): Promise<number> {
    if (this.writers.size >= OBJECT_WRITERS_PER_CONNECTION_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${OBJECT_WRITERS_PER_CONNECTION_MAX} objects open for writing on one connection`);
    }
    const writer = await this.service.createWriter(m);
    if (this.closed) {
      await this.service.abortWriter(writer);
      throw new PegasusError(ErrorCode.CONNECTION_CLOSED, 'connection closed during CreateObject');
    }
    const handle = this.nextHandle++;
    this.writers.set(handle, writer);
    return handle;
  }

  private writer(handle: number): ObjectWriter {
    const w = this.writers.get(handle);
    if (w === undefined) throw new PegasusError(ErrorCode.NOT_FOUND, `no object open for writing with handle ${handle} on this connection`);
    return w;
  }

  /** Checks and copies `body` synchronously; resolves once buffered. */
  append(m: AppendObject, body: Buffer): Promise<void> {
    return this.service.append(this.writer(m.handle), m, body);
  }

  async close(handle: number, length: number): Promise<PathInfo> {
    const w = this.writer(handle);
    this.writers.delete(handle);
    return this.service.closeWriter(w, length);
  }

  async abort(handle: number): Promise<void> {
    const w = this.writers.get(handle);
    if (w === undefined) return; // idempotent
    this.writers.delete(handle);
    await this.service.abortWriter(w);
  }

  /** The connection is gone: every object it was writing is dropped. */
  closeAll(): void {
    this.closed = true;
    for (const w of this.writers.values()) void this.service.abortWriter(w);
    this.writers.clear();
  }
}

export class ObjectService {
  private readonly namespace: Namespace;
  /** Every writer of the server (flush sources); by path, to refuse a second writer of one path. */
  private readonly writers = new Map<string, ObjectWriter>();
  /** Paths whose writer is being set up (between the checks and its insertion in `writers`). */
  private readonly claimedPaths = new Set<string>();
  private stopping = false;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** The expiry step running now (at most one). */
  private expiring: Promise<void> | null = null;

  private constructor(
    private readonly cfg: ServerConfig,
    readonly engine: Engine,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    this.namespace = new Namespace(engine.catalog, cfg.commitDurability === 'sync');
    engine.flusher.addSources(() => this.writers.values());
    engine.setSpaceReclaimer(() => this.evictWhileShort());
    metrics.registry.gauge('pegasus_objects_writing', 'Objects open for writing.', () => this.writers.size);
    metrics.registry.gauge('pegasus_object_cache_files', 'Cache files held (deleted least recently used first when the store runs short of space).', () => this.namespace.cacheStats().files);
    metrics.registry.gauge('pegasus_object_cache_bytes', 'Bytes of the cache files held.', () => this.namespace.cacheStats().bytes);
  }

  /** Opens the namespace, finishes what a stop left (writers' bytes, deletes) and removes orphaned object files. */
  static async open(cfg: ServerConfig, engine: Engine, log: Logger, metrics: ServerMetrics): Promise<ObjectService> {
    const svc = new ObjectService(cfg, engine, log, metrics);
    await svc.namespace.open();
    await svc.recover();
    svc.expiryTimer = setInterval(() => svc.expireDue(), OBJECT_EXPIRY_CHECK_MS);
    svc.expiryTimer.unref();
    return svc;
  }

  /** Housekeeping of the namespace, a step per tick: deletes the files whose TTL has run out. */
  private expireDue(): void {
    if (this.expiring !== null || this.stopping) return;
    this.expiring = (async () => {
      try {
        const due = await this.namespace.expire(Date.now(), OBJECT_EXPIRIES_PER_CHECK);
        for (const r of due) await this.reclaimLogged(r);
        if (due.length > 0) this.metrics.objectsExpired.inc(due.length);
      } catch (err) {
        this.log.error('expiring objects failed; retried at the next check', { error: String(err) });
      } finally {
        this.expiring = null;
      }
    })();
  }

  /**
   * The engine's space reclaimer (Engine.ensureRoom): the store is short of
   * space when no tier has room for two more segments (one to write now and one
   * of headroom) above its reserve; then cache files are deleted, least recently
   * used first, until one has or none is left. Called before every durable
   * append that would find the store short, and at housekeeping ticks. Shuffle
   * data and durable files are never deleted for room; when they alone fill
   * the store, writers get DISK_FULL.
   */
  private async evictWhileShort(): Promise<void> {
    const segment = this.cfg.segmentBytesMax;
    await this.engine.flusher.refreshDiskFree();
    for (let i = 0; i < OBJECT_EVICTIONS_PER_CHECK && !this.engine.tiers.hasRoom(2 * segment); i++) {
      const r = await this.namespace.evictOne();
      if (r === null) return;
      await this.reclaimLogged(r);
      this.metrics.objectsEvicted.inc();
    }
  }

  /** Sets the quota of a top-level directory (`top`: one path component); both 0 removes it. */
  async setQuota(top: string, bytesMax: number, objectsMax: number): Promise<void> {
    this.checkRunning();
    const parts = parsePath(`/${top}`);
    if (parts.length !== 1) throw new PegasusError(ErrorCode.INVALID_PATH, `quota directory ${JSON.stringify(top)} is not a top-level directory name`);
    for (const [what, n] of [['bytesMax', bytesMax], ['objectsMax', objectsMax]] as const) {
      if (!Number.isSafeInteger(n) || n < 0) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `${what} ${n} is not a count of at least 0 (0: no limit)`);
    }
    await this.namespace.setQuota(parts[0]!, { bytesMax, objectsMax });
    this.log.info('object quota set', { top: parts[0], bytesMax, objectsMax });
  }

  /** Every quota and what its directory uses. */
  quotas(): QuotaState[] {
    return this.namespace.quotaStates();
  }

  /** What a top-level directory uses. */
  usageOf(top: string): Usage {
    return this.namespace.usageOfTop(top);
  }

  private async recover(): Promise<void> {
    // Object logs are not kept open: their segments are counted against the tiers here, once.
    const segments = await this.engine.countStoredLogs(OBJECTS_TENANT.name);
    const pending = await this.engine.catalog.listRows(OBJECTS_TENANT.name, pendingRange(), Number.MAX_SAFE_INTEGER);
    let writers = 0;
    for (const row of pending) {
      const id = pendingIdOf(row.key);
      const state = decodePending(row.value);
      if (state === PendingState.WRITING) writers++;
      await this.reclaim({ id, state: state === PendingState.DELETING_DIR ? PendingState.DELETING_DIR : PendingState.DELETING_FILE, top: null });
    }
    const held = new Set<number>();
    const owners = new Set<string>();
    await this.namespace.forEachEntry((e) => {
      if (e.kind !== PathKind.FILE) return;
      held.add(e.id);
      owners.add(objectLog(e.id).owner);
    });
    const judge: OrphanJudge = {
      tenant: OBJECTS_TENANT.name,
      ownerHeld: (_tenant, owner) => owners.has(owner),
      logHeld: (l) => {
        const id = objectIdOf(l);
        return id !== null && held.has(id);
      },
      segmentOrphaned: () => false,
    };
    const orphans = await this.engine.sweepOrphans(judge, Number.MAX_SAFE_INTEGER, false);
    this.log.info('objects recovered', { files: held.size, segments, writersDropped: writers, reclaimed: pending.length - writers, orphansRemoved: orphans.length });
  }

  private checkRunning(): void {
    if (this.stopping) throw new PegasusError(ErrorCode.SHUTTING_DOWN, 'server is stopping');
  }

  // Writing -----------------------------------------------------------------

  async createWriter(m: CreateObject): Promise<ObjectWriter> {
    this.checkRunning();
    this.metrics.namespaceOps.inc(1, { op: 'create' });
    const parts = parsePath(m.path);
    if (parts.length === 0) throw new PegasusError(ErrorCode.IS_A_DIRECTORY, '/ is the root directory');
    const path = joinPath(parts);
    this.checkNotWriting(path);
    if (this.writers.size >= OBJECT_WRITERS_MAX) throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${OBJECT_WRITERS_MAX} objects open for writing`);
    // Early answers (the close checks again, under the namespace lock).
    const existing = await this.namespace.lookupForChange(parts);
    if (existing !== null) {
      if (existing.kind === PathKind.DIRECTORY) throw new PegasusError(ErrorCode.IS_A_DIRECTORY, `${path} is a directory`);
      if (!m.overwrite) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${path} already exists`);
    }
    this.checkNotWriting(path);
    this.namespace.checkCreate(parts[0]!);
    // Claimed before the next await, so that no second writer of the path gets past the check.
    this.claimedPaths.add(path);
    let id: number | null = null;
    try {
      id = await this.namespace.allocateId();
      const objectId = id;
      // The pending row and the log come with the first flush: a small object closed before one is stored inline.
      const openLog = async (): Promise<SegmentLog> => {
        await this.namespace.markWriting(objectId);
        return this.engine.openLog(objectLog(objectId), [], () => new PegasusError(ErrorCode.NOT_FOUND, `${path} is no longer being written`));
      };
      const writer = new ObjectWriter({ id, path, parts, overwrite: m.overwrite, ttlMs: m.ttlMs, cache: m.cache }, this.engine, openLog);
      this.writers.set(path, writer);
      return writer;
    } catch (err) {
      if (id !== null) await this.reclaimLogged({ id, state: PendingState.DELETING_FILE, top: null });
      throw err;
    } finally {
      this.claimedPaths.delete(path);
    }
  }

  private checkNotWriting(path: string): void {
    if (this.writers.has(path) || this.claimedPaths.has(path)) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${path} is being written by another writer`);
  }

  /** An append: counted against the quota of the writer's top-level directory first (QUOTA_EXCEEDED). */
  append(w: ObjectWriter, m: AppendObject, body: Buffer): Promise<void> {
    const top = w.opts.parts[0]!;
    this.namespace.reserveBytes(top, body.length);
    let done: Promise<void>;
    try {
      done = w.append(m.offset, body, m.crc32c);
    } catch (err) {
      this.namespace.releaseBytes(top, body.length);
      throw err;
    }
    return done.then(() => {
      w.quotaBytes += body.length;
    }, (err: unknown) => {
      this.namespace.releaseBytes(top, body.length);
      throw err;
    });
  }

  async closeWriter(w: ObjectWriter, length: number): Promise<PathInfo> {
    this.metrics.namespaceOps.inc(1, { op: 'close' });
    let reclaims: Reclaim[];
    let entry: Entry;
    try {
      this.checkRunning();
      const inline = await w.finish(length, OBJECT_INLINE_BYTES_MAX);
      entry = {
        kind: PathKind.FILE, id: w.opts.id, length, mtimeMs: Date.now(), ttlMs: w.opts.ttlMs, cache: w.opts.cache,
        tierId: inline === null ? w.firstTierId : null, inline: inline !== null,
      };
      const rows = inline === null ? [] : [{ key: inlineKey(w.opts.id), value: encodeInline(inline, crc32c(inline)) }];
      reclaims = await this.namespace.commitFile(w.opts.parts, entry, w.opts.overwrite, rows);
    } catch (err) {
      await this.abortWriter(w);
      throw err;
    }
    this.forgetWriter(w);
    await w.end();
    this.metrics.objectsClosed.inc();
    for (const r of reclaims) await this.reclaimLogged(r);
    return this.info(w.opts.path, entry);
  }

  async abortWriter(w: ObjectWriter): Promise<void> {
    this.forgetWriter(w);
    await w.end();
    this.metrics.objectsAborted.inc();
    const log = w.log;
    if (log === null) return; // nothing went to disk
    try {
      // Its own SegmentLog is open (an active segment may be charged whole): removed through it.
      await this.engine.removeLog(log);
      await this.namespace.dropPending(w.opts.id);
    } catch (err) {
      this.log.error('dropping an aborted object failed; retried at the next start', { id: w.opts.id, error: String(err) });
    }
  }

  /** The writer no longer holds its path, nor its bytes in its quota's count of bytes being written. */
  private forgetWriter(w: ObjectWriter): void {
    if (this.writers.get(w.opts.path) === w) this.writers.delete(w.opts.path);
    this.namespace.releaseBytes(w.opts.parts[0]!, w.quotaBytes);
    w.quotaBytes = 0;
  }

  // Namespace ---------------------------------------------------------------

  private info(name: string, e: Entry): PathInfo {
    const tier = e.inline === true ? `index:${this.engine.catalog.dir}` : e.tierId === null ? '' : this.engine.tiers.get(e.tierId)?.label ?? '';
    return { name, kind: e.kind, length: e.length, mtimeMs: e.mtimeMs, id: e.id, ttlMs: e.ttlMs, cache: e.cache, tier };
  }

  async stat(path: string): Promise<PathInfo> {
    this.metrics.namespaceOps.inc(1, { op: 'stat' });
    const parts = parsePath(path);
    return this.info(joinPath(parts), await this.namespace.stat(parts));
  }

  async list(m: ListDir): Promise<{ entries: PathInfo[]; more: boolean }> {
    this.metrics.namespaceOps.inc(1, { op: 'list' });
    const parts = parsePath(m.path);
    const limit = m.limit === 0 || m.limit > LIST_ENTRIES_MAX ? LIST_ENTRIES_MAX : m.limit;
    const { entries, more } = await this.namespace.list(parts, m.startAfter, limit);
    return { entries: entries.map((x) => this.info(x.name, x.entry)), more };
  }

  async mkdirs(path: string): Promise<void> {
    this.checkRunning();
    this.metrics.namespaceOps.inc(1, { op: 'mkdirs' });
    for (const r of await this.namespace.mkdirs(parsePath(path))) await this.reclaimLogged(r);
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkRunning();
    this.metrics.namespaceOps.inc(1, { op: 'rename' });
    for (const r of await this.namespace.rename(parsePath(from), parsePath(to))) await this.reclaimLogged(r);
  }

  /** Deletes a path; answers once its bytes are reclaimed. Whether anything was there. */
  async delete(path: string, recursive: boolean): Promise<boolean> {
    this.checkRunning();
    this.metrics.namespaceOps.inc(1, { op: 'delete' });
    const r = await this.namespace.remove(parsePath(path), recursive);
    if (r === null) return false;
    await this.reclaimLogged(r);
    return true;
  }

  /** The blocks of bytes [offset, offset + length) of the closed object at `path` (pinned to `id` unless 0). */
  async openRead(m: OpenObject): Promise<AsyncGenerator<StoredBlock[]>> {
    this.metrics.namespaceOps.inc(1, { op: 'open' });
    const parts = parsePath(m.path);
    const e = await this.namespace.stat(parts);
    if (e.kind !== PathKind.FILE) throw new PegasusError(ErrorCode.IS_A_DIRECTORY, `${joinPath(parts)} is a directory`);
    if (m.id !== 0 && e.id !== m.id) throw new PegasusError(ErrorCode.NOT_FOUND, `${joinPath(parts)} is no longer the object ${m.id} that was opened (replaced or deleted)`);
    const offset = Math.min(m.offset, e.length);
    const length = Math.min(m.length, e.length - offset);
    if (e.cache) this.namespace.touch(e.id);
    if (e.inline === true) return inlineBlocks(await this.namespace.readInline(e.id, e.length), offset, length);
    const runs = await placeRuns(this.engine.catalog, this.engine.tiers, e.id, e.length);
    return readObject(e.id, runs, offset, length);
  }

  // Reclaim -----------------------------------------------------------------

  private async reclaimLogged(r: Reclaim): Promise<void> {
    try {
      await this.reclaim(r);
    } catch (err) {
      // The pending row stays: the next start reclaims it.
      this.log.error('object reclaim failed; retried at the next start', { id: r.id, error: String(err) });
    }
  }

  /** Removes what a pending row names (a file's bytes, a deleted directory's entries, recursively), then the row. */
  private async reclaim(r: Reclaim): Promise<void> {
    if (r.state === PendingState.DELETING_DIR) {
      for (let children = await this.namespace.detachChildren(r.id, OBJECT_DELETE_BATCH_ENTRIES, r.top); children.length > 0;
        children = await this.namespace.detachChildren(r.id, OBJECT_DELETE_BATCH_ENTRIES, r.top)) {
        for (const c of children) await this.reclaim(c);
      }
    } else {
      if (r.inline !== false) await this.namespace.dropInline(r.id);
      if (r.inline !== true) await this.engine.removeStoredLog(objectLog(r.id));
      this.metrics.objectsDeleted.inc();
    }
    await this.namespace.dropPending(r.id);
  }

  /** Graceful stop: writers end (their pending rows make the next start reclaim their bytes). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    await this.expiring;
    for (const w of [...this.writers.values()]) await w.end();
  }
}
