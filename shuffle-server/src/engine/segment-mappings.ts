// Segment mappings: sealed segment files mapped and registered with UCX, so
// that readers fetch runs with one-sided gets. Keyed by the SegmentLog object
// (a log removed and created again under the same id is a new object, and
// never gets the old mapping) and the segment id.
//
// Lifetimes: a mapping is registered once per sealed segment and kept while its
// log lives, so later reads reuse it. Read leases hold references (acquire /
// unref). A mapping is released (unregistered and unmapped, on the native
// progress thread) when it has no references and either its log was removed
// (the log tells this class, logRemoved(); nothing polls) or the registered
// bytes exceed registeredBytesMax (least recently used first). An unlinked
// segment file keeps its disk space until its mapping is released.
//
// The registrar is the UCX listener's (net/ucx-transport.ts attaches it when
// UCX runs); without one, acquire() is TRANSPORT_UNAVAILABLE.
//
// Thread contract: event loop only; after every await the entry's state is
// re-checked (a mapping may be released or its log removed meanwhile).
import assert from 'node:assert/strict';

import { ErrorCode, PegasusError } from '../errors.js';
import { UCX_REGIONS_MAX } from '../limits.js';
import type { Logger } from '../logger.js';
import { logName } from './log-id.js';
import type { SegmentLog } from './segment-log.js';

/** What registering a file with UCX gives back (native UcxRegion). */
export interface RegisteredRegion {
  readonly address: bigint;
  readonly rkey: Buffer;
  release(): Promise<void>;
}

export interface Registrar {
  register(path: string, length: number): Promise<RegisteredRegion>;
}

/** One registered sealed segment. */
export interface Mapping {
  readonly log: SegmentLog;
  readonly segmentId: number;
  readonly path: string;
  readonly length: number;
  readonly address: bigint;
  readonly rkey: Buffer;
  refs: number;
  lastUsedMs: number;
}

interface Entry {
  readonly log: SegmentLog;
  readonly segmentId: number;
  mapping: Mapping | null;
  /** Registration in progress: concurrent acquires of the same segment share it. */
  pending: Promise<Mapping> | null;
  native: RegisteredRegion | null;
}

export class SegmentMappings {
  private readonly entries = new Map<SegmentLog, Map<number, Entry>>();
  private entryCount = 0;
  /** Bytes registered, plus bytes reserved by registrations in progress. */
  private registeredBytes = 0;
  private registrar: Registrar | null = null;
  private closed = false;

  constructor(
    private readonly registeredBytesMax: number,
    /** How errors map to a message (native errors carry codes). */
    private readonly describeError: (err: unknown) => PegasusError,
    private readonly log: Logger,
  ) {}

  /** UCX is running: mappings can be made. */
  attach(registrar: Registrar): void {
    this.registrar = registrar;
  }

  get bytes(): number {
    return this.registeredBytes;
  }

  get count(): number {
    let n = 0;
    for (const m of this.entries.values()) for (const e of m.values()) if (e.mapping !== null) n++;
    return n;
  }

  /**
   * The mapping of a sealed segment of `log`, with one more reference (the
   * caller's lease). Registers it on first use.
   */
  async acquire(log: SegmentLog, segmentId: number, path: string, length: number): Promise<Mapping> {
    for (;;) {
      if (this.closed) throw new PegasusError(ErrorCode.SHUTTING_DOWN, 'segment mappings are closed');
      const registrar = this.registrar;
      if (registrar === null) throw new PegasusError(ErrorCode.TRANSPORT_UNAVAILABLE, 'no UCX transport to map segments for');
      if (log.isRemoved) throw new PegasusError(ErrorCode.NOT_FOUND, `log ${logName(log.id)} was removed`);
      const e = this.entries.get(log)?.get(segmentId);
      if (e?.mapping != null) {
        assert.equal(e.mapping.length, length, `segment ${path} registered with ${e.mapping.length} bytes, now ${length}`);
        e.mapping.refs++;
        e.mapping.lastUsedMs = Date.now();
        return e.mapping;
      }
      if (e?.pending != null) {
        await e.pending.catch(() => undefined);
        continue; // re-check: registered, failed, or released meanwhile
      }
      await this.register(registrar, log, segmentId, path, length);
    }
  }

  /**
   * Registers a segment. The entry is claimed and its bytes reserved before the
   * first await, so concurrent acquires of the same segment wait for this one and
   * concurrent registrations of others cannot overrun registeredBytesMax.
   */
  private async register(registrar: Registrar, log: SegmentLog, segmentId: number, path: string, length: number): Promise<void> {
    if (this.entryCount >= UCX_REGIONS_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `${this.entryCount} segments registered with UCX, limit ${UCX_REGIONS_MAX}`);
    }
    const entry: Entry = { log, segmentId, mapping: null, pending: null, native: null };
    let ofLog = this.entries.get(log);
    if (ofLog === undefined) {
      ofLog = new Map();
      this.entries.set(log, ofLog);
    }
    ofLog.set(segmentId, entry);
    this.entryCount++;
    this.registeredBytes += length;
    entry.pending = (async () => {
      await this.makeRoom(length);
      let native: RegisteredRegion;
      try {
        native = await registrar.register(path, length);
      } catch (err) {
        throw this.describeError(err);
      }
      const mapping: Mapping = { log, segmentId, path, length, address: native.address, rkey: native.rkey, refs: 0, lastUsedMs: Date.now() };
      entry.native = native;
      entry.mapping = mapping;
      return mapping;
    })();
    try {
      await entry.pending;
    } catch (err) {
      this.forget(entry);
      this.registeredBytes -= length;
      throw err;
    } finally {
      entry.pending = null;
    }
    // The log may have gone while registering: release it now unless referenced.
    if (log.isRemoved && entry.mapping !== null && entry.mapping.refs === 0) void this.releaseEntry(entry);
  }

  private forget(e: Entry): void {
    const ofLog = this.entries.get(e.log);
    if (ofLog?.get(e.segmentId) !== e) return;
    ofLog.delete(e.segmentId);
    this.entryCount--;
    if (ofLog.size === 0) this.entries.delete(e.log);
  }

  /**
   * Releases unreferenced mappings, least recently used first, until the bytes
   * registered and reserved (the caller's `bytes` included) fit the bound.
   */
  private async makeRoom(bytes: number): Promise<void> {
    if (this.registeredBytes <= this.registeredBytesMax) return;
    const idle: Entry[] = [];
    for (const m of this.entries.values()) for (const e of m.values()) if (e.mapping !== null && e.mapping.refs === 0) idle.push(e);
    idle.sort((a, b) => a.mapping!.lastUsedMs - b.mapping!.lastUsedMs);
    for (const e of idle) {
      if (this.registeredBytes <= this.registeredBytesMax) break;
      // Re-checked after every await: an acquire may have taken a reference meanwhile.
      if (e.mapping === null || e.mapping.refs !== 0) continue;
      await this.releaseEntry(e);
    }
    if (this.registeredBytes > this.registeredBytesMax) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED,
        `UCX registration of ${bytes} bytes would exceed ucxRegisteredBytesMax ${this.registeredBytesMax} (${this.registeredBytes - bytes} registered or being registered, all in use by reads)`);
    }
  }

  /** Drops the caller's reference; a mapping of a removed log is released when unreferenced. */
  unref(mapping: Mapping): void {
    assert(mapping.refs > 0, `mapping ${mapping.path} unreferenced twice`);
    mapping.refs--;
    if (mapping.refs === 0 && mapping.log.isRemoved) {
      const e = this.entries.get(mapping.log)?.get(mapping.segmentId);
      if (e !== undefined && e.mapping === mapping) void this.releaseEntry(e);
    }
  }

  /** The log's segments are gone: release its unreferenced mappings now; the rest at their last unref. */
  logRemoved(log: SegmentLog): void {
    const ofLog = this.entries.get(log);
    if (ofLog === undefined) return;
    for (const e of [...ofLog.values()]) if (e.mapping !== null && e.mapping.refs === 0) void this.releaseEntry(e);
  }

  private async releaseEntry(e: Entry): Promise<void> {
    const mapping = e.mapping;
    const native = e.native;
    if (mapping === null || native === null) return;
    e.mapping = null;
    e.native = null;
    this.forget(e);
    this.registeredBytes -= mapping.length;
    try {
      await native.release();
    } catch (err) {
      this.log.error('UCX region release failed', { path: mapping.path, error: this.describeError(err).message });
    }
  }

  /** Releases every mapping (server stopping). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all: Entry[] = [];
    for (const m of this.entries.values()) all.push(...m.values());
    for (const e of all) await this.releaseEntry(e);
    this.registrar = null;
  }
}
