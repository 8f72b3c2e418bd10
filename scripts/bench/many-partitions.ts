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
import { registerShuffle } from '../../shuffle-client/src/control.js';
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

/** Writes and reads `bytes` of records into MANY_FEW and into MANY_LOTS partitions; `measure` adds CPU seconds. */
export async function benchManyPartitions(address: string, bytes: number, measure: Measure, log: (line: string) => void): Promise<ManyPartitionsResult> {
  const appId = 'bench-many';
  const one = async (shuffleId: number, partitions: number): Promise<{ w: Measured<IngestStats>; r: Measured<ReadStats> }> => {
    const w = await measure(() => ingest(address, appId, shuffleId, partitions, bytes));
    const r = await measure(() => read(address, appId, shuffleId, partitions));
    if (r.value.records !== w.value.records || r.value.bytes !== w.value.rawBytes) {
      throw new Error(`${partitions} partitions: wrote ${w.value.records} records / ${w.value.rawBytes} bytes, read ${r.value.records} / ${r.value.bytes}`);
    }
    log(`many partitions, ${partitions}: ingest ${w.value.seconds.toFixed(1)} s, ${w.value.blocks} blocks in ${w.value.batches} batches; ` +
      `read ${r.value.seconds.toFixed(1)} s`);
    return { w, r };
  };
  const few = await one(10, MANY_FEW);
  const lots = await one(11, MANY_LOTS);
  const gib = few.w.value.rawBytes / 2 ** 30;
  const mbps = (b: number, s: number): number => round(b / 1e6 / s);
  const perGiB = (s: number): number => round(s / gib, 2);
  const ingestMBps100 = mbps(few.w.value.rawBytes, few.w.value.seconds);
  const ingestMBps100k = mbps(lots.w.value.rawBytes, lots.w.value.seconds);
  const readMBps100 = mbps(few.r.value.bytes, few.r.value.seconds);
  const readMBps100k = mbps(lots.r.value.bytes, lots.r.value.seconds);
  return {
    bytes: few.w.value.rawBytes,
    ingestMBps100, ingestMBps100k, ingestRatio: round(ingestMBps100k / ingestMBps100, 3),
    readMBps100, readMBps100k, readRatio: round(readMBps100k / readMBps100, 3),
    clientCpuSecPerGiBIngest100: perGiB(few.w.clientCpuS), clientCpuSecPerGiBIngest100k: perGiB(lots.w.clientCpuS),
    serverCpuSecPerGiBIngest100: perGiB(few.w.serverCpuS), serverCpuSecPerGiBIngest100k: perGiB(lots.w.serverCpuS),
    clientCpuSecPerGiBRead100: perGiB(few.r.clientCpuS), clientCpuSecPerGiBRead100k: perGiB(lots.r.clientCpuS),
    serverCpuSecPerGiBRead100: perGiB(few.r.serverCpuS), serverCpuSecPerGiBRead100k: perGiB(lots.r.serverCpuS),
    blocksPerPartition100: round(few.w.value.blocks / MANY_FEW, 2), blocksPerPartition100k: round(lots.w.value.blocks / MANY_LOTS, 2),
    recordsPerBlock100: round(few.w.value.records / few.w.value.blocks, 1), recordsPerBlock100k: round(lots.w.value.records / lots.w.value.blocks, 1),
    batches100: few.w.value.batches, batches100k: lots.w.value.batches,
  };
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
