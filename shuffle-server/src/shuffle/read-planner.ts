// Plans one-sided (UCX) reads of a shuffle: the runs of a partition and map
// range, the sealed segments they lie in mapped and registered with UCX
// (engine/segment-mappings.ts), and the commits that decide which of their
// blocks count. A planned read holds references on its mappings until it is
// released or abandoned, so a get never reaches memory the server let go of.
// Release reports whether the shuffle stayed intact for the whole read: one
// removed meanwhile ends the read with UNKNOWN_SHUFFLE, never with data of a
// removed shuffle.
import type { PlanRead, ReadPlan, RunLocation } from '../../../schemas/ts/messages.js';
import type { Mapping, SegmentMappings } from '../engine/segment-mappings.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { COMMITS_PER_PLAN_MAX, REGIONS_PER_PLAN_MAX, RUNS_PER_PLAN_MAX } from '../limits.js';
import { shuffleGone } from './shuffle-rows.js';
import type { Shuffle } from './shuffle.js';

/** A planned read: the plan to send (less its lease id) and the references it holds. */
export interface PlannedRead {
  readonly plan: Omit<ReadPlan, 'type' | 'leaseId'>;
  readonly bytes: number;
  /** Ends the read; UNKNOWN_SHUFFLE when the shuffle was removed while it was read. */
  release(): void;
  /** Ends the read without a verdict (connection closed). */
  abandon(): void;
}

function gone(s: Shuffle): PegasusError {
  return shuffleGone(s.appId, s.shuffleId);
}

/** Plans a read of `s` within the ReadPlan limits and takes references on its segments. */
export async function planUcxRead(s: Shuffle, m: PlanRead, mappings: SegmentMappings): Promise<PlannedRead> {
  const planned = await s.planRuns(m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd);
  const over = (what: string, n: number, max: number): never => {
    throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `a UCX read of partitions [${m.partitionStart}, ${m.partitionEnd}) maps [${m.mapStart}, ${m.mapEnd}) needs ${n} ${what}, limit ${max} per ReadPlan; read a smaller range or over WebSocket`);
  };
  if (planned.runs.length > RUNS_PER_PLAN_MAX) over('runs', planned.runs.length, RUNS_PER_PLAN_MAX);
  if (planned.segments.length > REGIONS_PER_PLAN_MAX) over('segments', planned.segments.length, REGIONS_PER_PLAN_MAX);
  if (planned.commits.length > COMMITS_PER_PLAN_MAX) over('map commits', planned.commits.length, COMMITS_PER_PLAN_MAX);

  const held: Mapping[] = [];
  const regionIndex = new Map<number, number>();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    for (const r of held) mappings.unref(r);
  };
  try {
    for (const seg of planned.segments) {
      let mapping: Mapping;
      try {
        mapping = await mappings.acquire(s.segmentLog, seg.segmentId, seg.path, seg.length);
      } catch (err) {
        if (s.isRemoved) throw gone(s);
        throw err;
      }
      regionIndex.set(seg.segmentId, held.length);
      held.push(mapping);
    }
    if (s.isRemoved) throw gone(s);
  } catch (err) {
    end();
    throw err;
  }
  const runs: RunLocation[] = [];
  let bytes = 0;
  for (const run of planned.runs) {
    const index = regionIndex.get(run.segmentId)!;
    runs.push({
      remoteAddress: held[index]!.address + BigInt(run.offset),
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
  return {
    plan: { regions: held.map((r) => r.rkey), runs, commits: planned.commits },
    bytes,
    release: () => {
      end();
      if (s.isRemoved) {
        throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${s.appId}/${s.shuffleId} was removed during the read; discard what was read`);
      }
    },
    abandon: end,
  };
}
