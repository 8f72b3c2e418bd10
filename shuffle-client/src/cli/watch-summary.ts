// The compact per-server summary `metrics --watch` redraws: throughput in
// (pushed stored bytes) and out (bytes sent to readers) from the deltas of
// the counters between two rounds, and the gauges as they are.
import { sumMetric } from './prometheus.js';

export interface Sample {
  atMs: number;
  metrics: Record<string, number>;
}

export interface Summary {
  inBytesPerSecond: number | undefined;
  outBytesPerSecond: number | undefined;
  memoryUsedBytes: number | undefined;
  memoryBudgetBytes: number | undefined;
  diskUsedBytes: number | undefined;
  apps: number | undefined;
  shuffles: number | undefined;
  connections: number | undefined;
  errors: number | undefined;
  /** Errors answered since the previous round. */
  newErrors: number | undefined;
}

/** Per-second rate of a counter; undefined without a previous sample, or after a reset (a restarted server). */
function rate(name: string, now: Sample, before: Sample | undefined): number | undefined {
  if (before === undefined) return undefined;
  const a = sumMetric(before.metrics, name);
  const b = sumMetric(now.metrics, name);
  const seconds = (now.atMs - before.atMs) / 1000;
  if (a === undefined || b === undefined || b < a || seconds <= 0) return undefined;
  return (b - a) / seconds;
}

export function summarize(now: Sample, before: Sample | undefined): Summary {
  const m = now.metrics;
  const errors = sumMetric(m, 'pegasus_errors_total') ?? 0;
  const errorsBefore = before === undefined ? undefined : sumMetric(before.metrics, 'pegasus_errors_total') ?? 0;
  return {
    inBytesPerSecond: rate('pegasus_push_bytes_total', now, before),
    outBytesPerSecond: rate('pegasus_read_bytes_total', now, before),
    memoryUsedBytes: m['pegasus_memory_used_bytes'],
    memoryBudgetBytes: m['pegasus_memory_budget_bytes'],
    diskUsedBytes: m['pegasus_disk_used_bytes'],
    apps: m['pegasus_apps'],
    shuffles: m['pegasus_shuffles'],
    connections: m['pegasus_connections'],
    errors,
    newErrors: errorsBefore === undefined || errors < errorsBefore ? undefined : errors - errorsBefore,
  };
}
