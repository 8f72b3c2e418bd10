// Shared pieces of the writer/reader tests: deterministic records, an oracle
// of what was written (a plain map of partition -> records in write order),
// and read-back through the real client and server.
import type { ExecutionContext } from 'ava';
import { PegasusError } from '../../schemas/ts/errors.js';
import { Connection, type ConnectionOptions } from '../src/connection.js';
import { registerShuffle } from '../src/control.js';
import { ShuffleReader, type ReadTransport } from '../src/reader.js';
import { ShuffleWriter, type WriterOptions } from '../src/writer.js';
import { TcpProxy } from './tcp-proxy.js';

export const SHUFFLE_ID = 1;

export const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until it holds or `ms` pass. */
export async function until(cond: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; !cond(); await sleep(10)) {
    if (Date.now() > end) return false;
  }
  return true;
}

/** A connection closed when the test ends, pass or fail, so a failed test cannot keep the worker alive. */
export async function connectFor(t: ExecutionContext, address: string, options?: ConnectionOptions): Promise<Connection> {
  const conn = await Connection.connect(address, options);
  t.teardown(() => conn.close());
  return conn;
}

/** A proxy to `target` closed (cutting its connections) when the test ends. */
export async function proxyFor(t: ExecutionContext, target: string): Promise<TcpProxy> {
  const proxy = await TcpProxy.start(target);
  t.teardown(() => proxy.close());
  return proxy;
}

/** Deterministic, compressible records: "m<map>-p<partition>-<i>-" padded with x. */
export function recordOf(map: number, partition: number, i: number, pad = 40): Buffer {
  return Buffer.from(`m${map}-p${partition}-${i}-`.padEnd(pad + (i % 17), 'x'));
}

/** Records per partition, in the order they were written (or read). */
export type Oracle = Map<number, string[]>;

function remember(oracle: Oracle, partition: number, record: Buffer | string): void {
  const list = oracle.get(partition) ?? [];
  list.push(record.toString());
  oracle.set(partition, list);
}

/** Concatenates the oracles' lists per partition, in the order given. */
export function concatOracles(...oracles: Oracle[]): Oracle {
  const out: Oracle = new Map();
  for (const o of oracles) for (const [p, list] of o) for (const r of list) remember(out, p, r);
  return out;
}

export interface WriteStats {
  /** write() calls that returned a promise (the writer was over its memory bound). */
  waits: number;
  /** Largest memoryBytes() seen right after a write() call or a wait. */
  memoryPeakBytes: number;
}

/**
 * Writes `count` records of `map` to the partitions `partitionOf` picks,
 * waiting whenever write() asks to, and notes each in `oracle`.
 */
export async function writeRecords(
  w: ShuffleWriter, map: number, count: number, partitionOf: (i: number) => number, oracle: Oracle, recordFor = recordOf,
): Promise<WriteStats> {
  const stats: WriteStats = { waits: 0, memoryPeakBytes: 0 };
  for (let i = 0; i < count; i++) {
    const p = partitionOf(i);
    const r = recordFor(map, p, i);
    const wait = w.write(p, r);
    stats.memoryPeakBytes = Math.max(stats.memoryPeakBytes, w.memoryBytes());
    if (wait !== undefined) {
      stats.waits++;
      await wait;
      stats.memoryPeakBytes = Math.max(stats.memoryPeakBytes, w.memoryBytes());
    }
    remember(oracle, p, r);
  }
  return stats;
}

export function writerFor(conn: Connection, appId: string, mapId: number, attempt: number, numPartitions: number, options: WriterOptions = {}): ShuffleWriter {
  return new ShuffleWriter({ connection: conn, appId, shuffleId: SHUFFLE_ID, mapId, attempt, numPartitions, options });
}

export async function registerFor(conn: Connection, appId: string, numMaps: number, numPartitions: number): Promise<void> {
  await registerShuffle(conn, { appId, shuffleId: SHUFFLE_ID, numMaps, numPartitions });
}

export interface ReadRangeSpec {
  partitions: [number, number];
  maps: [number, number];
  creditBytes?: number;
  transport?: ReadTransport;
}

export function readerFor(conn: Connection, appId: string, range: ReadRangeSpec): ShuffleReader {
  return new ShuffleReader({
    connection: conn, appId, shuffleId: SHUFFLE_ID,
    partitionStart: range.partitions[0], partitionEnd: range.partitions[1], mapStart: range.maps[0], mapEnd: range.maps[1],
    options: { creditBytes: range.creditBytes ?? 64 * 1024, transport: range.transport ?? 'websocket' },
  });
}

/** Every record of the range, per partition, in the order the server sent them. */
export async function readAll(conn: Connection, appId: string, range: ReadRangeSpec): Promise<Oracle> {
  const got: Oracle = new Map();
  for await (const { partition, record } of readerFor(conn, appId, range).records()) remember(got, partition, record);
  return got;
}
