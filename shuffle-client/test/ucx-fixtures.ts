// Shared pieces of the UCX read tests: a shuffle with everything a read must get
// right (several maps, a losing duplicate attempt, an attempt that never
// commits, lz4 and raw blocks, blocks spread over several flushes and segments,
// runs longer than one UCX get piece), and block-level reads over either
// transport for comparison.
import type { ExecutionContext } from 'ava';

import type { Connection } from '../src/connection.js';
import { ShuffleReader, type ReadTransport } from '../src/reader.js';
import { SHUFFLE_ID, recordOf, registerFor, writeRecords, writerFor, type Oracle } from './shuffle-fixtures.js';

export interface BlockSummary {
  partition: number;
  mapId: number;
  attempt: number;
  /** sha-like identity of the block's raw bytes: length and a few bytes. */
  bytes: string;
}

/** Every block of a read, in order, as comparable summaries. */
export async function readBlockList(
  conn: Connection, appId: string, partitions: [number, number], maps: [number, number], transport: ReadTransport,
): Promise<BlockSummary[]> {
  const reader = new ShuffleReader({
    connection: conn, appId, shuffleId: SHUFFLE_ID,
    partitionStart: partitions[0], partitionEnd: partitions[1], mapStart: maps[0], mapEnd: maps[1],
    options: { transport },
  });
  const out: BlockSummary[] = [];
  for await (const b of reader.readBlocks()) {
    out.push({ partition: b.partition, mapId: b.mapId, attempt: b.attempt, bytes: `${b.data.length}:${b.data.toString('base64')}` });
  }
  return out;
}

/**
 * Writes the standard tricky shuffle: maps 0..3 commit (map 2 twice: attempt 1
 * loses to attempt 0), map 4's attempt never commits. `big` adds 20 MiB of
 * incompressible records to partition 1, so its runs exceed one get piece.
 */
export async function writeTrickyShuffle(t: ExecutionContext, conn: Connection, appId: string, numPartitions: number, big = false): Promise<Oracle> {
  await registerFor(conn, appId, 5, numPartitions);
  // An attempt that pushes and never commits: a small memory bound makes it push
  // (and wait for acks) while writing; the commits below flush its blocks into
  // the same runs, where a read must skip them.
  const lost = writerFor(conn, appId, 4, 0, numPartitions, { blockBytes: 16 * 1024, batchBytes: 64 * 1024, memoryBytesMax: 1024 * 1024 });
  await writeRecords(lost, 4, 40_000, (i) => i % numPartitions, new Map(), recordOf);
  lost.abort();
  const committed: Oracle = new Map();
  for (const [map, attempt, codec] of [[0, 0, 'lz4'], [1, 0, 'none'], [2, 0, 'lz4'], [2, 1, 'lz4'], [3, 0, 'none']] as const) {
    const w = writerFor(conn, appId, map, attempt, numPartitions, { codec, blockBytes: 16 * 1024, batchBytes: 64 * 1024 });
    const oracle: Oracle = new Map();
    await writeRecords(w, map, 5_000, (i) => (i * 5 + map) % numPartitions, oracle);
    if (big && map === 1) {
      const random = (m: number, p: number, i: number): Buffer => {
        const b = Buffer.alloc(64 * 1024);
        for (let k = 0; k < b.length; k += 4) b.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ (k * 40503) ^ (m << 8) ^ p) >>> 0, k);
        return b;
      };
      await writeRecords(w, map, 320, () => 1, oracle, random);
    }
    const r = await w.close();
    t.is(r.won, !(map === 2 && attempt === 1), `map ${map} attempt ${attempt}`);
    if (r.won) for (const [p, list] of oracle) committed.set(p, [...(committed.get(p) ?? []), ...list]);
  }
  return committed;
}
