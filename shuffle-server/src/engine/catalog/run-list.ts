// The answer of Catalog.listRuns: runs ordered by partition, then segment id,
// then offset, assembled from run-group rows (run-groups.ts) and from the per-run
// rows of indexes written before run groups.
//
// Run-group rows arrive ordered by group, then segment, then first offset, each
// holding its entries by partition then offset. Groups never share a partition,
// so only one group's entries need reordering at a time: a stable counting sort
// by partition over the group's RUN_GROUP_PARTITIONS slots (O(entries), no
// comparisons) leaves each partition's entries in row order, which is segment,
// then offset whenever appends land in offset order. That is checked as the
// entries are emitted; should it not hold (one append's rows split, appends
// indexed out of order), the whole answer is sorted instead.
import { RUN_GROUP_PARTITIONS } from '../../limits.js';
import { decodeRunGroupValue, type RunGroupKey } from './run-groups.js';
import type { RunEntry } from './types.js';

/** listRuns' order. */
export function compareRuns(a: RunEntry, b: RunEntry): number {
  return a.partition - b.partition || a.segmentId - b.segmentId || a.offset - b.offset;
}

export class RunGroupCollector {
  private readonly out: RunEntry[] = [];
  /** Entries of the current group, in row order. */
  private pending: RunEntry[] = [];
  private group = -1;
  private unordered = false;
  /** Counting-sort slots, one per partition of a group, plus one. */
  private counts: Int32Array | null = null;

  constructor(
    private readonly partitionStart: number,
    private readonly partitionEnd: number,
  ) {}

  /** One row, in key order. */
  add(key: RunGroupKey, value: Buffer): void {
    if (key.group !== this.group) {
      this.flush();
      this.group = key.group;
    }
    decodeRunGroupValue(key, value, this.partitionStart, this.partitionEnd, this.pending);
  }

  /** Every entry added, in listRuns' order. */
  finish(): RunEntry[] {
    this.flush();
    if (this.unordered) this.out.sort(compareRuns);
    return this.out;
  }

  private flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    // One row, or a read of one partition: often already in order.
    let sorted = true;
    for (let i = 1; i < pending.length && sorted; i++) sorted = compareRuns(pending[i - 1]!, pending[i]!) < 0;
    if (sorted) {
      for (const r of pending) this.out.push(r);
      return;
    }
    const counts = this.counts ??= new Int32Array(RUN_GROUP_PARTITIONS + 1);
    counts.fill(0);
    const base = this.group * RUN_GROUP_PARTITIONS;
    for (const r of pending) counts[r.partition - base + 1]!++;
    for (let i = 1; i <= RUN_GROUP_PARTITIONS; i++) counts[i]! += counts[i - 1]!;
    const byPartition = new Array<RunEntry>(pending.length);
    for (const r of pending) byPartition[counts[r.partition - base]!++] = r;
    let prior: RunEntry | null = null;
    for (const r of byPartition) {
      if (prior !== null && compareRuns(prior, r) >= 0) this.unordered = true;
      this.out.push(r);
      prior = r;
    }
  }
}

/** Two lists each in listRuns' order, merged into one. */
export function mergeRuns(a: readonly RunEntry[], b: readonly RunEntry[]): RunEntry[] {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a.slice();
  const out = new Array<RunEntry>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = compareRuns(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
