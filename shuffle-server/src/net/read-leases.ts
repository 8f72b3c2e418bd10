// The UCX read leases of one connection. A lease is what PlanRead hands out: the
// sealed segments holding the runs of a read stay registered (and mapped) until
// the reader sends ReleaseRead or its connection closes, so a one-sided get never
// reaches memory the server has let go of. ReleaseRead reports whether the
// shuffle stayed intact for the whole lease: a shuffle removed while it was read
// ends the read with UNKNOWN_SHUFFLE, never with data of a removed shuffle.
import type { PlanRead, ReadPlan, RunLocation } from '../../../schemas/ts/messages.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { READ_LEASES_PER_CONNECTION_MAX } from '../limits.js';
import type { ServerMetrics } from '../metrics.js';
import type { ShuffleService } from '../shuffle/shuffle-service.js';
import type { Shuffle } from '../shuffle/shuffle.js';
import type { Region, UcxTransport } from './ucx-transport.js';

interface Lease {
  readonly shuffle: Shuffle;
  readonly regions: Region[];
}

export class ReadLeases {
  private readonly leases = new Map<number, Lease>();
  private nextId = 1;
  private closed = false;
  /** Plans in progress: they count against the lease bound, as they hold regions. */
  private planning = 0;

  constructor(
    private readonly ucx: UcxTransport,
    private readonly service: ShuffleService,
    private readonly metrics: ServerMetrics,
  ) {}

  get size(): number {
    return this.leases.size;
  }

  /** Plans a read: seals and registers the segments of its runs, and leases them. */
  async plan(m: PlanRead): Promise<ReadPlan> {
    if (this.leases.size + this.planning >= READ_LEASES_PER_CONNECTION_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${READ_LEASES_PER_CONNECTION_MAX} UCX read leases (open or being planned) on one connection`);
    }
    this.planning++;
    try {
      return await this.planOnce(m);
    } finally {
      this.planning--;
    }
  }

  private async planOnce(m: PlanRead): Promise<ReadPlan> {
    const planned = await this.service.planRead(m);
    const regions: Region[] = [];
    const regionIndex = new Map<number, number>();
    const runs: RunLocation[] = [];
    try {
      for (const seg of planned.segments) {
        const region = await this.ucx.acquire(planned.shuffle, seg.path, seg.length);
        regionIndex.set(seg.segmentId, regions.length);
        regions.push(region);
      }
      if (this.closed) throw new PegasusError(ErrorCode.CONNECTION_CLOSED, 'connection closed while planning a UCX read');
      if (planned.shuffle.isRemoved) throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${m.appId}/${m.shuffleId} was removed`);
    } catch (err) {
      for (const r of regions) this.ucx.unref(r);
      throw err;
    }
    let bytes = 0;
    for (const run of planned.runs) {
      const index = regionIndex.get(run.segmentId)!;
      runs.push({
        remoteAddress: regions[index]!.address + BigInt(run.offset),
        length: run.length,
        partition: run.partition,
        region: index,
        blockCount: run.blockCount,
        mapMin: run.mapMin,
        mapMax: run.mapMax,
        crc32c: run.crc32c ?? null,
      });
      bytes += run.length;
    }
    const leaseId = this.nextId++;
    this.leases.set(leaseId, { shuffle: planned.shuffle, regions });
    this.metrics.ucxPlans.inc();
    this.metrics.ucxPlannedBytes.inc(bytes);
    return { type: 'ReadPlan', leaseId, regions: regions.map((r) => r.rkey), runs, commits: planned.commits };
  }

  /** Ends a lease; UNKNOWN_SHUFFLE when its shuffle was removed while leased. */
  release(leaseId: number): void {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw new PegasusError(ErrorCode.NOT_FOUND, `no UCX read lease ${leaseId} on this connection`);
    this.leases.delete(leaseId);
    for (const r of lease.regions) this.ucx.unref(r);
    if (lease.shuffle.isRemoved) {
      throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${lease.shuffle.appId}/${lease.shuffle.shuffleId} was removed during the read; discard what was read`);
    }
  }

  /** The connection closed: every lease ends. */
  close(): void {
    this.closed = true;
    for (const lease of this.leases.values()) for (const r of lease.regions) this.ucx.unref(r);
    this.leases.clear();
  }
}
