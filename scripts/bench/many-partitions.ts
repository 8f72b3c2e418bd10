// The bench's many-partitions phase (issue 10): the same records written through
// the real ShuffleWriter (records API, writer defaults: LZ4, 256 KiB blocks,
// 64 MiB writer memory) into MANY_FEW partitions and into MANY_LOTS partitions,
// committed, then read back record by record with the real ShuffleReader the way
// reduce tasks do: READ_TASKS tasks, each reading its own range of partitions,
// READERS of them at a time. Both shuffles hold the same bytes; only the
// partition count differs, so the ratios show what per-block and per-partition
// costs take.
//
// Records are RECORD_BYTES long: a 4-byte pseudo-random key (which picks the
// partition), a 4-byte sequence number, and bytes cut from a pool of random
// letters at a key-chosen offset (compressible the way real values are:
// repeated substrings, not one repeated byte).
import { Connection } from '../../shuffle-client/src/connection.js';
import { registerShuffle, unregisterShuffle } from '../../shuffle-client/src/control.js';
import { ShuffleReader } from '../../shuffle-client/src/reader.js';
import { ShuffleWriter } from '../../shuffle-client/src/writer.js';

export const MANY_FEW = 100;
export const MANY_LOTS = 100_000;
const WRITERS = 4;
const READERS = 4;
/** Reduce tasks per shuffle: with MANY_FEW partitions one partition each, with MANY_LOTS a range of 1,000. */
const READ_TASKS = 100;
const RECORD_BYTES = 100;
const POOL_BYTES = 64 * 1024;

export interface Measured<T> {
  value: T;
  serverCpuS: number;
  clientCpuS: number;
}
export type Measure = <T>(phase: () => Promise<T>) => Promise<Measured<T>>;

interface IngestStats {
  seconds: number;
  records: number;
  rawBytes: number;
  blocks: number;
  batches: number;
}

interface ReadStats {
  seconds: number;
  records: number;
  bytes: number;
}

export interface ManyPartitionsResult {
  /** Record bytes (without length prefixes) written into each shuffle. */
  bytes: number;
  /** Rounds run (each writes and reads both shuffles); every rate and CPU figure is the median over them. */
  rounds: number;
  ingestMBps100: number;
  ingestMBps100k: number;
  ingestRatio: number;
  readMBps100: number;
  readMBps100k: number;
  readRatio: number;
  clientCpuSecPerGiBIngest100: number;
  clientCpuSecPerGiBIngest100k: number;
  serverCpuSecPerGiBIngest100: number;
  serverCpuSecPerGiBIngest100k: number;
  clientCpuSecPerGiBRead100: number;
  clientCpuSecPerGiBRead100k: number;
  serverCpuSecPerGiBRead100: number;
  serverCpuSecPerGiBRead100k: number;
  /** Blocks over all writers divided by the partition count. */
  blocksPerPartition100: number;
  blocksPerPartition100k: number;
  recordsPerBlock100: number;
  recordsPerBlock100k: number;
  batches100: number;
  batches100k: number;
}

function xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

function letterPool(): Buffer {
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < pool.length; i++) {
    x = xorshift(x);
    pool[i] = 97 + (x % 26);
  }
  return pool;
}

async function ingest(address: string, appId: string, shuffleId: number, partitions: number, bytes: number): Promise<IngestStats> {
  const pool = letterPool();
  const conns = await Promise.all(Array.from({ length: WRITERS }, () => Connection.connect(address)));
  await registerShuffle(conns[0]!, { appId, shuffleId, numMaps: WRITERS, numPartitions: partitions });
  const perWriter = Math.floor(bytes / WRITERS / RECORD_BYTES);
  const start = process.hrtime.bigint();
  const results = await Promise.all(conns.map(async (connection, mapId) => {
    const w = new ShuffleWriter({ connection, appId, shuffleId, mapId, attempt: 0, numPartitions: partitions });
    const rec = Buffer.allocUnsafe(RECORD_BYTES);
    let x = 0x12345 + mapId * 0x1000193;
    for (let i = 0; i < perWriter; i++) {
      x = xorshift(x);
      rec.writeUInt32LE(x, 0);
      rec.writeUInt32LE(i, 4);
      const from = (x >>> 7) % (POOL_BYTES - RECORD_BYTES);
      pool.copy(rec, 8, from, from + RECORD_BYTES - 8);
      const wait = w.write(x % partitions, rec);
      if (wait !== undefined) await wait;
    }
    const r = await w.close();
    if (!r.won) throw new Error(`map ${mapId} lost its commit`);
    return r;
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(conns.map((c) => c.close()));
  return {
    seconds,
    records: results.reduce((a, r) => a + r.records, 0),
    rawBytes: perWriter * WRITERS * RECORD_BYTES,
    blocks: results.reduce((a, r) => a + r.blocks, 0),
    batches: results.reduce((a, r) => a + r.batches, 0),
  };
}

async function read(address: string, appId: string, shuffleId: number, partitions: number): Promise<ReadStats> {
  const conns = await Promise.all(Array.from({ length: READERS }, () => Connection.connect(address)));
  const per = Math.ceil(partitions / READ_TASKS);
  let nextTask = 0;
  const stats: ReadStats = { seconds: 0, records: 0, bytes: 0 };
  const start = process.hrtime.bigint();
  await Promise.all(conns.map(async (connection) => {
    for (let task = nextTask++; task < READ_TASKS; task = nextTask++) {
      const partitionStart = Math.min(task * per, partitions);
      const partitionEnd = Math.min(partitionStart + per, partitions);
      if (partitionStart === partitionEnd) continue;
      const reader = new ShuffleReader({
        connection, appId, shuffleId, partitionStart, partitionEnd, mapStart: 0, mapEnd: WRITERS,
      });
      for await (const r of reader.records()) {
        stats.records++;
        stats.bytes += r.record.length;
      }
    }
  }));
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(conns.map((c) => c.close()));
  return stats;
}

/**
 * Writes and reads `bytes` of records into MANY_FEW and into MANY_LOTS
 * partitions, `rounds` times, alternating (so a slow spell of the machine
 * hits both sides), each shuffle unregistered once read; reports the median
 * of each measure over the rounds. `measure` adds CPU seconds.
 */
export async function benchManyPartitions(address: string, bytes: number, rounds: number, measure: Measure, log: (line: string) => void): Promise<ManyPartitionsResult> {
  const appId = 'bench-many';
  const control = await Connection.connect(address);
  let nextShuffleId = 10;
  const one = async (partitions: number): Promise<{ w: Measured<IngestStats>; r: Measured<ReadStats> }> => {
    const shuffleId = nextShuffleId++;
    const w = await measure(() => ingest(address, appId, shuffleId, partitions, bytes));
    const r = await measure(() => read(address, appId, shuffleId, partitions));
    await unregisterShuffle(control, appId, shuffleId);
    if (r.value.records !== w.value.records || r.value.bytes !== w.value.rawBytes) {
      throw new Error(`${partitions} partitions: wrote ${w.value.records} records / ${w.value.rawBytes} bytes, read ${r.value.records} / ${r.value.bytes}`);
    }
    log(`many partitions, ${partitions}: ingest ${w.value.seconds.toFixed(1)} s, ${w.value.blocks} blocks in ${w.value.batches} batches; ` +
      `read ${r.value.seconds.toFixed(1)} s`);
    return { w, r };
  };
  const few: Array<{ w: Measured<IngestStats>; r: Measured<ReadStats> }> = [];
  const lots: typeof few = [];
  for (let i = 0; i < rounds; i++) {
    few.push(await one(MANY_FEW));
    lots.push(await one(MANY_LOTS));
  }
  await control.close();
  const first = few[0]!.w.value;
  const gib = first.rawBytes / 2 ** 30;
  const mbps = (b: number, s: number): number => round(b / 1e6 / s);
  const perGiB = (s: number): number => round(s / gib, 2);
  type Run = (typeof few)[number];
  const med = (runs: Run[], pick: (r: Run) => number): number => median(runs.map(pick));
  const ingestMBps100 = med(few, (x) => mbps(x.w.value.rawBytes, x.w.value.seconds));
  const ingestMBps100k = med(lots, (x) => mbps(x.w.value.rawBytes, x.w.value.seconds));
  const readMBps100 = med(few, (x) => mbps(x.r.value.bytes, x.r.value.seconds));
  const readMBps100k = med(lots, (x) => mbps(x.r.value.bytes, x.r.value.seconds));
  const lastLots = lots[lots.length - 1]!.w.value;
  const lastFew = few[few.length - 1]!.w.value;
  return {
    bytes: first.rawBytes,
    rounds,
    ingestMBps100, ingestMBps100k, ingestRatio: round(ingestMBps100k / ingestMBps100, 3),
    readMBps100, readMBps100k, readRatio: round(readMBps100k / readMBps100, 3),
    clientCpuSecPerGiBIngest100: perGiB(med(few, (x) => x.w.clientCpuS)), clientCpuSecPerGiBIngest100k: perGiB(med(lots, (x) => x.w.clientCpuS)),
    serverCpuSecPerGiBIngest100: perGiB(med(few, (x) => x.w.serverCpuS)), serverCpuSecPerGiBIngest100k: perGiB(med(lots, (x) => x.w.serverCpuS)),
    clientCpuSecPerGiBRead100: perGiB(med(few, (x) => x.r.clientCpuS)), clientCpuSecPerGiBRead100k: perGiB(med(lots, (x) => x.r.clientCpuS)),
    serverCpuSecPerGiBRead100: perGiB(med(few, (x) => x.r.serverCpuS)), serverCpuSecPerGiBRead100k: perGiB(med(lots, (x) => x.r.serverCpuS)),
    // The writers cut the same records the same way every round.
    blocksPerPartition100: round(lastFew.blocks / MANY_FEW, 2), blocksPerPartition100k: round(lastLots.blocks / MANY_LOTS, 2),
    recordsPerBlock100: round(lastFew.records / lastFew.blocks, 1), recordsPerBlock100k: round(lastLots.records / lastLots.blocks, 1),
    batches100: lastFew.batches, batches100k: lastLots.batches,
  };
}

/** The median (of an even count, the mean of the middle two). */
function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
