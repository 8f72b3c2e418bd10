// The server's UCX transport: a UCX listener beside the WebSocket port (native
// UcxServer, its own progress thread), and the cache of sealed segment files
// mapped and registered with UCX (regions) that one-sided reads fetch from.
//
// Lifetimes: a region is registered once per sealed segment and kept while its
// shuffle lives, so later reads reuse it. Read leases (read-leases.ts) hold
// references; a region is released (unregistered and unmapped, on the native
// progress thread) only with no references, when its shuffle is removed or when
// the registered bytes exceed ucxRegisteredBytesMax (least recently used first).
// An unlinked segment file keeps its disk space until its region is released,
// which a sweep does within UCX_SWEEP_INTERVAL_MS.
//
// Thread contract: event loop only; after every await the entry's state is
// re-checked (a region may be released or its shuffle removed meanwhile).
import assert from 'node:assert/strict';

import type { UcxRegion, UcxServer } from '../../../native/binding.cjs';
import { fromNativeError } from '../../../native/ts/errors.js';
import { nativeBinding, nativeStatus } from '../../../native/ts/index.js';
import type { ServerConfig } from '../config.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { UCX_REGIONS_MAX, UCX_SWEEP_INTERVAL_MS } from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { Shuffle } from '../shuffle/shuffle.js';

/** One registered sealed segment. */
export interface Region {
  readonly path: string;
  readonly shuffle: Shuffle;
  readonly length: number;
  readonly address: bigint;
  readonly rkey: Buffer;
  refs: number;
  lastUsedMs: number;
}

interface Entry {
  /** Shuffle incarnation and segment path. */
  readonly key: string;
  region: Region | null;
  /** Registration in progress: concurrent plans for the same segment share it. */
  pending: Promise<Region> | null;
  native: UcxRegion | null;
}

export interface UcxState {
  enabled: boolean;
  port: number;
  /** Why UCX is off; null when it runs. */
  reason: string | null;
}

export class UcxTransport {
  private readonly entries = new Map<string, Entry>();
  /** Bytes registered, plus bytes reserved by registrations in progress. */
  private registeredBytes = 0;
  private readonly incarnations = new WeakMap<Shuffle, number>();
  private nextIncarnation = 1;
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;
  private readonly address: Buffer;

  private constructor(
    private readonly server: UcxServer,
    private readonly registeredBytesMax: number,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    this.address = server.workerAddress();
    this.sweepTimer = setInterval(() => this.sweep(), UCX_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /**
   * Starts the UCX listener when configured and possible. `ucx: 'auto'` runs
   * without UCX (and says why) when the native module is missing or UCX fails to
   * start; `ucx: 'on'` refuses to start the server then.
   */
  static async start(cfg: ServerConfig, log: Logger, metrics: ServerMetrics): Promise<{ transport: UcxTransport | null; state: UcxState }> {
    if (cfg.ucx === 'off') return { transport: null, state: { enabled: false, port: 0, reason: 'disabled by config (ucx off)' } };
    const binding = nativeBinding();
    let reason: string;
    if (binding === null) {
      reason = nativeStatus().reason ?? 'native module not loaded';
    } else {
      try {
        const server = await binding.UcxServer.start(cfg.ucxHost === '' ? cfg.host : cfg.ucxHost, cfg.ucxPort);
        let transport: UcxTransport;
        try {
          transport = new UcxTransport(server, cfg.ucxRegisteredBytesMax, log, metrics);
          transport.registerGauges();
        } catch (err) {
          await server.close();
          throw err;
        }
        return { transport, state: { enabled: true, port: server.port, reason: null } };
      } catch (err) {
        reason = `UCX listener failed to start: ${fromNativeError(err).message}`;
      }
    }
    if (cfg.ucx === 'on') throw new Error(`ucx is on but ${reason}`);
    return { transport: null, state: { enabled: false, port: 0, reason } };
  }

  get port(): number {
    return this.server.port;
  }

  /** The UCX worker address readers connect with (UCX then picks the lanes; see native/UCX.md). */
  get workerAddress(): Buffer {
    return this.address;
  }

  private registerGauges(): void {
    const r = this.metrics.registry;
    r.gauge('pegasus_ucx_registered_bytes', 'Bytes of sealed segments mapped and registered with UCX.', () => this.registeredBytes);
    r.gauge('pegasus_ucx_regions', 'Sealed segments registered with UCX.', () => this.regionCount());
    r.gauge('pegasus_ucx_endpoints', 'Connected UCX endpoints (readers).', () => (this.closed ? 0 : this.server.stats().endpoints));
  }

  private regionCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.region !== null) n++;
    return n;
  }

  /**
   * The registered region of a sealed segment file of `shuffle`, with one more
   * reference (the caller's lease). Registers it on first use. Entries are keyed
   * by the shuffle's incarnation and the path: a shuffle removed and registered
   * again reuses its segment file names, and must never get the old mapping.
   */
  async acquire(shuffle: Shuffle, path: string, length: number): Promise<Region> {
    const key = `${this.incarnationOf(shuffle)}:${path}`;
    for (;;) {
      if (this.closed) throw new PegasusError(ErrorCode.SHUTTING_DOWN, 'UCX transport is closed');
      if (shuffle.isRemoved) throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${shuffle.appId}/${shuffle.shuffleId} was removed`);
      const e = this.entries.get(key);
      if (e?.region != null) {
        assert.equal(e.region.length, length, `segment ${path} registered with ${e.region.length} bytes, now ${length}`);
        e.region.refs++;
        e.region.lastUsedMs = Date.now();
        return e.region;
      }
      if (e?.pending != null) {
        await e.pending.catch(() => undefined);
        continue; // re-check: registered, failed, or released meanwhile
      }
      await this.register(key, shuffle, path, length);
    }
  }

  private incarnationOf(shuffle: Shuffle): number {
    let id = this.incarnations.get(shuffle);
    if (id === undefined) {
      id = this.nextIncarnation++;
      this.incarnations.set(shuffle, id);
    }
    return id;
  }

  /**
   * Registers a segment. The entry is claimed and its bytes reserved before the
   * first await, so concurrent plans of the same segment wait for this one and
   * concurrent registrations of others cannot overrun ucxRegisteredBytesMax.
   */
  private async register(key: string, shuffle: Shuffle, path: string, length: number): Promise<void> {
    if (this.entries.size >= UCX_REGIONS_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `${this.entries.size} segments registered with UCX, limit ${UCX_REGIONS_MAX}`);
    }
    const entry: Entry = { key, region: null, pending: null, native: null };
    this.entries.set(key, entry);
    this.registeredBytes += length;
    entry.pending = (async () => {
      await this.makeRoom(length);
      let native: UcxRegion;
      try {
        native = await this.server.register(path, length);
      } catch (err) {
        throw fromNativeError(err, ErrorCode.STORAGE_IO);
      }
      const region: Region = { path, shuffle, length, address: native.address, rkey: native.rkey, refs: 0, lastUsedMs: Date.now() };
      entry.native = native;
      entry.region = region;
      return region;
    })();
    try {
      await entry.pending;
    } catch (err) {
      this.entries.delete(key);
      this.registeredBytes -= length;
      throw err;
    } finally {
      entry.pending = null;
    }
    // The shuffle may have gone while registering: the sweep releases it.
  }

  /**
   * Releases unreferenced regions, least recently used first, until the bytes
   * registered and reserved (the caller's `bytes` included) fit the bound.
   */
  private async makeRoom(bytes: number): Promise<void> {
    if (this.registeredBytes <= this.registeredBytesMax) return;
    const idle = [...this.entries.values()]
      .filter((e) => e.region !== null && e.region.refs === 0)
      .sort((a, b) => a.region!.lastUsedMs - b.region!.lastUsedMs);
    for (const e of idle) {
      if (this.registeredBytes <= this.registeredBytesMax) break;
      // Re-checked after every await: a plan may have taken a reference meanwhile.
      if (e.region === null || e.region.refs !== 0) continue;
      await this.releaseEntry(e);
    }
    if (this.registeredBytes > this.registeredBytesMax) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED,
        `UCX registration of ${bytes} bytes would exceed ucxRegisteredBytesMax ${this.registeredBytesMax} (${this.registeredBytes - bytes} registered or being registered, all in use by reads)`);
    }
  }

  /** Drops the caller's reference; a region of a removed shuffle is released when unreferenced. */
  unref(region: Region): void {
    assert(region.refs > 0, `region ${region.path} unreferenced twice`);
    region.refs--;
    if (region.refs === 0 && region.shuffle.isRemoved) {
      const e = this.entryOf(region);
      if (e !== undefined) void this.releaseEntry(e);
    }
  }

  private entryOf(region: Region): Entry | undefined {
    const e = this.entries.get(`${this.incarnationOf(region.shuffle)}:${region.path}`);
    return e !== undefined && e.region === region ? e : undefined;
  }

  private async releaseEntry(e: Entry): Promise<void> {
    const region = e.region;
    const native = e.native;
    if (region === null || native === null) return;
    e.region = null;
    e.native = null;
    this.entries.delete(e.key);
    this.registeredBytes -= region.length;
    try {
      await native.release();
    } catch (err) {
      this.log.error('UCX region release failed', { path: region.path, error: fromNativeError(err).message });
    }
  }

  /** Releases unreferenced regions of removed shuffles (their files are already unlinked). */
  private sweep(): void {
    for (const e of [...this.entries.values()]) {
      const r = e.region;
      if (r !== null && r.refs === 0 && r.shuffle.isRemoved) void this.releaseEntry(e);
    }
  }

  /** Closes the listener and every endpoint, and releases every region. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const e of [...this.entries.values()]) await this.releaseEntry(e);
    try {
      await this.server.close();
    } catch (err) {
      this.log.warn('UCX listener close failed', { error: fromNativeError(err).message });
    }
  }
}
