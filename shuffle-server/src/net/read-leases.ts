// The UCX read leases of one connection. A lease is what PlanRead hands out
// (shuffle/read-planner.ts): the sealed segments holding the runs of a read
// stay registered (and mapped) until the reader sends ReleaseRead or its
// connection closes. This file only numbers and bounds them.
import type { PlanRead, ReadPlan } from '../../../schemas/ts/messages.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { READ_LEASES_PER_CONNECTION_MAX } from '../limits.js';
import type { ServerMetrics } from '../metrics.js';
import type { PlannedRead, ShuffleService } from '../shuffle/shuffle-service.js';

export class ReadLeases {
  private readonly leases = new Map<number, PlannedRead>();
  private nextId = 1;
  private closed = false;
  /** Plans in progress: they count against the lease bound, as they hold regions. */
  private planning = 0;

  constructor(
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
    let planned: PlannedRead;
    try {
      planned = await this.service.planRead(m);
    } finally {
      this.planning--;
    }
    if (this.closed) {
      planned.abandon();
      throw new PegasusError(ErrorCode.CONNECTION_CLOSED, 'connection closed while planning a UCX read');
    }
    const leaseId = this.nextId++;
    this.leases.set(leaseId, planned);
    this.metrics.ucxPlans.inc();
    this.metrics.ucxPlannedBytes.inc(planned.bytes);
    return { type: 'ReadPlan', leaseId, ...planned.plan };
  }

  /** Ends a lease; UNKNOWN_SHUFFLE when its shuffle was removed while leased. */
  release(leaseId: number): void {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw new PegasusError(ErrorCode.NOT_FOUND, `no UCX read lease ${leaseId} on this connection`);
    this.leases.delete(leaseId);
    lease.release();
  }

  /** The connection closed: every lease ends. */
  close(): void {
    this.closed = true;
    for (const lease of this.leases.values()) lease.abandon();
    this.leases.clear();
  }
}
