// Counters, gauges and histograms, rendered in the Prometheus text exposition
// format (version 0.0.4). Byte paths only add to numbers here; nothing logs per block.
import { RecentErrors } from './recent-errors.js';
import { errorCodeName, type ErrorCode } from './errors.js';

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** label set key ("" for none) -> value */
  values: Map<string, number>;
  /** Gauges read at scrape time. */
  collect?: () => number | Array<[Labels, number]>;
  /** Histograms (no labels): their buckets and totals. */
  histogram?: Histogram;
}

function labelKey(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.keys(labels).sort().map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.join(',');
}

export class Counter {
  constructor(private readonly family: Family) {}

  inc(by = 1, labels?: Labels): void {
    const key = labelKey(labels);
    this.family.values.set(key, (this.family.values.get(key) ?? 0) + by);
  }

  get(labels?: Labels): number {
    return this.family.values.get(labelKey(labels)) ?? 0;
  }
}

/**
 * A histogram without labels: cumulative buckets with declared upper bounds
 * (seconds for latencies), a sum and a count, as Prometheus expects.
 */
export class Histogram {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  private readonly counts: number[];
  private sumValue = 0;
  private countValue = 0;

  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`histogram bounds must increase: ${bounds.join(', ')}`);
    }
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sumValue += value;
    this.countValue++;
  }

  /** Observes the seconds since `startNs` (from process.hrtime.bigint()). */
  observeSince(startNs: bigint): void {
    this.observe(Number(process.hrtime.bigint() - startNs) / 1e9);
  }

  get count(): number {
    return this.countValue;
  }

  get sum(): number {
    return this.sumValue;
  }

  render(name: string, out: string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out.push(`${name}_bucket{le="${this.bounds[i]}"} ${cumulative}`);
    }
    cumulative += this.counts[this.bounds.length]!;
    out.push(`${name}_bucket{le="+Inf"} ${cumulative}`, `${name}_sum ${this.sumValue}`, `${name}_count ${this.countValue}`);
  }
}

/** Latency buckets in seconds: 100 µs to 60 s, about three per decade. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

export class MetricsRegistry {
  private readonly families: Family[] = [];

  counter(name: string, help: string): Counter {
    const f: Family = { name, help, type: 'counter', values: new Map() };
    this.families.push(f);
    return new Counter(f);
  }

  /** A gauge whose value is read when /metrics is scraped. */
  gauge(name: string, help: string, collect: () => number | Array<[Labels, number]>): void {
    this.families.push({ name, help, type: 'gauge', values: new Map(), collect });
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    const h = new Histogram(bounds);
    this.families.push({ name, help, type: 'histogram', values: new Map(), histogram: h });
    return h;
  }

  /**
   * The current value of an unlabelled gauge or counter (the sum over label sets
   * for labelled ones); null when no such family is registered. For the admin
   * status, which reports what /metrics reports without a second source of truth.
   */
  sample(name: string): number | null {
    const f = this.families.find((x) => x.name === name);
    if (f === undefined || f.histogram !== undefined) return null;
    if (f.collect !== undefined) {
      const v = f.collect();
      return typeof v === 'number' ? v : v.reduce((n, [, x]) => n + x, 0);
    }
    let n = 0;
    for (const x of f.values.values()) n += x;
    return n;
  }

  render(): string {
    const out: string[] = [];
    for (const f of this.families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      if (f.histogram !== undefined) {
        f.histogram.render(f.name, out);
        continue;
      }
      if (f.collect !== undefined) {
        const v = f.collect();
        if (typeof v === 'number') out.push(`${f.name} ${v}`);
        else for (const [labels, n] of v) out.push(`${f.name}{${labelKey(labels)}} ${n}`);
        continue;
      }
      if (f.values.size === 0 && f.type === 'counter') out.push(`${f.name} 0`);
      for (const [key, n] of f.values) out.push(key === '' ? `${f.name} ${n}` : `${f.name}{${key}} ${n}`);
    }
    return `${out.join('\n')}\n`;
  }
}

/** The server's metrics. Names follow Prometheus conventions: base units, _total for counters. */
export class ServerMetrics {
  readonly registry = new MetricsRegistry();
  readonly pushedBytes = this.registry.counter('pegasus_push_bytes_total', 'Stored bytes of blocks accepted by pushes.');
  readonly pushedBlocks = this.registry.counter('pegasus_push_blocks_total', 'Blocks accepted by pushes.');
  readonly duplicatePushes = this.registry.counter('pegasus_push_duplicate_batches_total', 'Retried batches that were already stored and were not stored again.');
  readonly readBytes = this.registry.counter('pegasus_read_bytes_total', 'Stored bytes of blocks sent to readers.');
  readonly readBlocks = this.registry.counter('pegasus_read_blocks_total', 'Blocks sent to readers.');
  readonly commits = this.registry.counter('pegasus_commits_total', 'Map attempt commits by result (won, lost).');
  readonly flushes = this.registry.counter('pegasus_flushes_total', 'Flushes of buffered blocks to segment files.');
  readonly flushedBytes = this.registry.counter('pegasus_flush_bytes_total', 'Bytes written to segment files by flushes (fdatasync included).');
  readonly errors = this.registry.counter('pegasus_errors_total', 'Errors answered to clients, by code.');
  readonly tornTailBytes = this.registry.counter('pegasus_recovered_torn_tail_bytes_total', 'Bytes of torn segment tails truncated at start.');
  readonly recoveryFailures = this.registry.counter('pegasus_recovery_failures_total', 'Shuffles whose files failed validation at start and are not served.');
  readonly forcedCollections = this.registry.counter('pegasus_forced_gc_total', 'Full garbage collections forced to free dead pushed Buffers (see engine/garbage-bound.ts).');
  readonly ucxPlans = this.registry.counter('pegasus_ucx_read_plans_total', 'Reads planned for one-sided UCX gets (PlanRead answered).');
  readonly ucxPlannedBytes = this.registry.counter('pegasus_ucx_read_planned_bytes_total', 'Bytes of runs handed to readers for one-sided UCX gets.');
  readonly expiredApps = this.registry.counter('pegasus_expired_apps_total', 'Applications removed after their heartbeat stopped.');
  readonly objectBytesAppended = this.registry.counter('pegasus_object_append_bytes_total', 'Bytes appended to objects being written.');
  readonly objectsClosed = this.registry.counter('pegasus_objects_closed_total', 'Objects closed: durable and visible at their path.');
  readonly objectsAborted = this.registry.counter('pegasus_objects_aborted_total', 'Objects whose writer aborted or went away before the close; their bytes are reclaimed.');
  readonly objectsDeleted = this.registry.counter('pegasus_objects_deleted_total', 'Files whose bytes were reclaimed after a delete, an overwrite or a deleted directory.');
  readonly objectsEvicted = this.registry.counter('pegasus_objects_evicted_total', 'Cache files deleted, least recently used first, because the store ran short of space.');
  readonly objectsExpired = this.registry.counter('pegasus_objects_expired_total', 'Files deleted because their TTL ran out.');
  readonly objectReadBytes = this.registry.counter('pegasus_object_read_bytes_total', 'Object bytes sent to readers.');
  readonly namespaceOps = this.registry.counter('pegasus_namespace_ops_total', 'Namespace requests answered, by op (create, close, stat, list, mkdirs, rename, delete, open).');
  readonly pushLatency = this.registry.histogram('pegasus_push_latency_seconds', 'Seconds from a push received to its acknowledgement (blocks buffered).', LATENCY_BUCKETS_SECONDS);
  readonly commitLatency = this.registry.histogram('pegasus_commit_latency_seconds', 'Seconds from a commit received to its durable acknowledgement.', LATENCY_BUCKETS_SECONDS);
  readonly readLatency = this.registry.histogram('pegasus_read_latency_seconds', 'Seconds from a read stream opened to its ReadEnd sent.', LATENCY_BUCKETS_SECONDS);
  readonly flushLatency = this.registry.histogram('pegasus_flush_latency_seconds', 'Seconds one flush of a shuffle takes: segment writes with fdatasync and the index batch.', LATENCY_BUCKETS_SECONDS);
  /** The most recent errors answered to clients (GET /api/v1/errors). */
  readonly recentErrors = new RecentErrors();
  readonly startedAtMs = Date.now();

  constructor() {
    this.registry.gauge('pegasus_uptime_seconds', 'Seconds since the server process started serving.', () => (Date.now() - this.startedAtMs) / 1000);
  }

  /**
   * Per-tier gauges, labelled tier="<kind>:<path>". pegasus_disk_used_bytes
   * (unlabelled, registered by the server) stays the total over all tiers.
   */
  /** Counts an error answered to a client and keeps it among the recent ones. */
  error(code: ErrorCode, message = ''): void {
    const name = errorCodeName(code);
    this.errors.inc(1, { code: name });
    this.recentErrors.add(name, message);
  }
}
