// Counters and gauges, rendered in the Prometheus text exposition format
// (version 0.0.4). Byte paths only add to numbers here; nothing logs per block.
import { errorCodeName, type ErrorCode } from './errors.js';
import type { TierSet } from './store/tiers.js';

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  /** label set key ("" for none) -> value */
  values: Map<string, number>;
  /** Gauges read at scrape time. */
  collect?: () => number | Array<[Labels, number]>;
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

  render(): string {
    const out: string[] = [];
    for (const f of this.families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
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
  readonly forcedCollections = this.registry.counter('pegasus_forced_gc_total', 'Full garbage collections forced to free dead pushed Buffers (see shuffle/garbage-bound.ts).');
  readonly ucxPlans = this.registry.counter('pegasus_ucx_read_plans_total', 'Reads planned for one-sided UCX gets (PlanRead answered).');
  readonly ucxPlannedBytes = this.registry.counter('pegasus_ucx_read_planned_bytes_total', 'Bytes of runs handed to readers for one-sided UCX gets.');
  readonly expiredApps = this.registry.counter('pegasus_expired_apps_total', 'Applications removed after their heartbeat stopped.');

  /**
   * Per-tier gauges, labelled tier="<kind>:<path>". pegasus_disk_used_bytes
   * (unlabelled, registered by the server) stays the total over all tiers.
   */
  trackTiers(tiers: TierSet): void {
    const each = (f: (t: TierSet['tiers'][number]) => number) => () => tiers.tiers.map((t): [Labels, number] => [{ tier: t.label, kind: t.kind }, f(t)]);
    this.registry.gauge('pegasus_tier_used_bytes', 'Durable bytes of segment files on each storage tier.', each((t) => t.usedBytes));
    this.registry.gauge('pegasus_tier_charged_bytes', 'Bytes charged against each tier\'s capacity: whole segments while active (pmem segments are preallocated), durable bytes once sealed.', each((t) => t.chargedBytes));
    this.registry.gauge('pegasus_tier_capacity_bytes', 'Configured capacity of each storage tier (9007199254740991: bounded by its file system only).', each((t) => t.capacityBytes));
    this.registry.gauge('pegasus_tier_free_bytes', 'Free bytes of each tier\'s file system at the last check.', each((t) => t.freeBytes === Number.MAX_SAFE_INTEGER ? 0 : t.freeBytes));
    this.registry.gauge('pegasus_tier_pmem_writes', 'Whether segments of each tier are written through libpmem2 (1) or with file writes and fdatasync (0).', each((t) => (t.writesThroughPmem ? 1 : 0)));
  }

  error(code: ErrorCode): void {
    this.errors.inc(1, { code: errorCodeName(code) });
  }
}
