import test from 'ava';
import { PegasusError } from '../../schemas/ts/errors.js';
import { Connection } from '../src/connection.js';
import { ShuffleReader } from '../src/reader.js';
import { ShuffleWriter, type WriterOptions } from '../src/writer.js';
import { FakeServer } from './fake-server.js';

const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);

/** Deterministic, compressible records: "m<map>-p<partition>-<i>" padded. */
function recordOf(map: number, partition: number, i: number, pad = 40): Buffer {
  return Buffer.from(`m${map}-p${partition}-${i}-`.padEnd(pad + (i % 17), 'x'));
}

interface Written { perPartition: Map<number, string[]> }

/** Writes `count` records of map `map` round-robin-ish; returns the oracle. */
async function writeMap(w: ShuffleWriter, map: number, count: number, numPartitions: number, oracle: Written): Promise<void> {
  for (let i = 0; i < count; i++) {
    const p = (i * 7 + map) % numPartitions;
    const r = recordOf(map, p, i);
    const wait = w.write(p, r);
    if (wait !== undefined) await wait;
    t_assertMemory(w);
    const list = oracle.perPartition.get(p) ?? [];
    list.push(r.toString());
    oracle.perPartition.set(p, list);
  }
}

let memoryViolations = 0;
function t_assertMemory(w: ShuffleWriter): void {
  if (w.memoryBytes() > w.memoryBytesMax) memoryViolations++;
}

async function readAll(conn: Connection, numPartitions: number, maps: [number, number], parts: [number, number] = [0, numPartitions]): Promise<Map<number, string[]>> {
  const reader = new ShuffleReader({
    connection: conn, appId: 'app', shuffleId: 1, partitionStart: parts[0], partitionEnd: parts[1], mapStart: maps[0], mapEnd: maps[1],
    options: { creditBytes: 64 * 1024 },
  });
  const got = new Map<number, string[]>();
  for await (const { partition, record } of reader.records()) {
    const list = got.get(partition) ?? [];
    list.push(record.toString());
    got.set(partition, list);
  }
  return got;
}

function writer(conn: Connection, mapId: number, attempt: number, numPartitions: number, options: WriterOptions = {}): ShuffleWriter {
  return new ShuffleWriter({ connection: conn, appId: 'app', shuffleId: 1, mapId, attempt, numPartitions, options });
}

test('written records read back per partition, in write order, within a memory bound', async (t) => {
  const server = await FakeServer.start({ pushWindow: 3, readFrameBytes: 16 * 1024 });
  const conn = await Connection.connect(server.address);
  const numPartitions = 13;
  const oracles: Written[] = [];
  memoryViolations = 0;
  for (let map = 0; map < 2; map++) {
    const w = writer(conn, map, 0, numPartitions, { blockBytes: 8 * 1024, batchBytes: 16 * 1024, memoryBytesMax: 1 << 20 });
    const oracle: Written = { perPartition: new Map() };
    await writeMap(w, map, 30_000, numPartitions, oracle);
    const result = await w.close();
    t.true(result.won);
    t.is(result.winnerAttempt, 0);
    t.is(result.records, 30_000);
    t.true(result.batches > 10, `${result.batches} batches`);
    t.is(result.partitionLengths.length, numPartitions);
    t.is(result.partitionLengths.reduce((a, b) => a + b, 0), result.bytesWritten);
    t.true(result.bytesWritten < result.rawBytesWritten, 'lz4 shrank the records');
    oracles.push(oracle);
  }
  t.is(memoryViolations, 0);
  const got = await readAll(conn, numPartitions, [0, 2]);
  for (let p = 0; p < numPartitions; p++) {
    // Map 0's records, then map 1's: the fake server orders by map within a partition.
    const want = [...(oracles[0]!.perPartition.get(p) ?? []), ...(oracles[1]!.perPartition.get(p) ?? [])];
    t.deepEqual(got.get(p) ?? [], want, `partition ${p}`);
  }
  // Ranges of partitions and maps.
  const some = await readAll(conn, numPartitions, [1, 2], [3, 5]);
  t.deepEqual([...some.keys()], [3, 4]);
  t.deepEqual(some.get(4), oracles[1]!.perPartition.get(4));
  await conn.close();
  await server.close();
});

test('a small memory bound makes write() wait and still delivers everything', async (t) => {
  const server = await FakeServer.start({ pushWindow: 1 });
  const conn = await Connection.connect(server.address);
  const numPartitions = 200;
  const w = writer(conn, 0, 0, numPartitions, { memoryBytesMax: 1 << 20, codec: 'none' });
  let waits = 0;
  const oracle: Written = { perPartition: new Map() };
  for (let i = 0; i < 50_000; i++) {
    const p = i % numPartitions;
    const r = recordOf(0, p, i);
    const wait = w.write(p, r);
    if (wait !== undefined) {
      waits++;
      t.true(w.memoryBytes() > w.memoryBytesMax, 'a write waits only while over the bound');
      t.is(codeOf(t.throws(() => w.write(0, r))), 'INVALID_ARGUMENT', 'write during a wait is refused');
      await wait;
    }
    t.true(w.memoryBytes() <= w.memoryBytesMax);
    const list = oracle.perPartition.get(p) ?? [];
    list.push(r.toString());
    oracle.perPartition.set(p, list);
  }
  t.true(waits > 0);
  await w.close();
  const got = await readAll(conn, numPartitions, [0, 1]);
  for (let p = 0; p < numPartitions; p++) t.deepEqual(got.get(p), oracle.perPartition.get(p));
  await conn.close();
  await server.close();
});

test('an empty map commits with batch_count 0', async (t) => {
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  const result = await writer(conn, 3, 0, 4).close();
  t.true(result.won);
  t.is(result.batches, 0);
  t.deepEqual(result.partitionLengths, [0, 0, 0, 0]);
  t.deepEqual(server.commits.get(3), { attempt: 0, batchCount: 0 });
  await conn.close();
  await server.close();
});

test('records larger than a block become their own block; larger than the maximum are refused', async (t) => {
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 2, { blockBytes: 4096 });
  const big = Buffer.alloc(100_000, 5);
  w.write(1, Buffer.from('small'));
  w.write(1, big);
  w.write(1, Buffer.from('after'));
  t.is(codeOf(t.throws(() => w.write(0, Buffer.alloc(w.recordBytesMax + 1)))), 'INVALID_ARGUMENT');
  t.is(codeOf(t.throws(() => w.write(2, big))), 'INVALID_ARGUMENT');
  await w.close();
  const got = await readAll(conn, 2, [0, 1]);
  t.deepEqual(got.get(1)!.map((r) => r.length), [5, 100_000, 5]);
  await conn.close();
  await server.close();
});

test('a second attempt of a map loses the commit', async (t) => {
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  const a = writer(conn, 0, 1, 2);
  a.write(0, Buffer.from('from attempt 1'));
  const b = writer(conn, 0, 2, 2);
  b.write(0, Buffer.from('from attempt 2'));
  t.true((await a.close()).won);
  const lost = await b.close();
  t.false(lost.won);
  t.is(lost.winnerAttempt, 1);
  const got = await readAll(conn, 2, [0, 1]);
  t.deepEqual(got.get(0), ['from attempt 1']);
  await conn.close();
  await server.close();
});

test('a dropped connection is survived: unacked batches are pushed again with the same numbers', async (t) => {
  // Push 3 is stored but its ack is lost; push 6 is lost outright.
  const server = await FakeServer.start({
    pushWindow: 2,
    onPush: (_f, i) => (i === 3 ? 'store-and-close' : i === 6 ? 'close' : 'ack'),
  });
  const conn = await Connection.connect(server.address);
  const numPartitions = 5;
  const w = writer(conn, 0, 0, numPartitions, { blockBytes: 4096, batchBytes: 8192 });
  const oracle: Written = { perPartition: new Map() };
  await writeMap(w, 0, 5_000, numPartitions, oracle);
  const result = await w.close();
  t.true(result.won);
  t.is(w.pushCounters.reconnects, 2);
  t.is(server.connections, 3);
  t.true(w.pushCounters.retriedPushes >= 2);
  t.is(server.batches.size, result.batches, 'each batch stored once');
  t.true(conn.closed, "the caller's connection was the one dropped");
  const conn2 = await Connection.connect(server.address);
  const got = await readAll(conn2, numPartitions, [0, 1]);
  for (let p = 0; p < numPartitions; p++) t.deepEqual(got.get(p), oracle.perPartition.get(p));
  await conn2.close();
  await server.close();
});

test('when reconnects keep failing the writer gives up with the last error', async (t) => {
  const server = await FakeServer.start({ onPush: () => 'close' });
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1, { maxRetries: 2 });
  w.write(0, Buffer.from('doomed'));
  const err = await t.throwsAsync(w.close());
  t.is(codeOf(err), 'CONNECTION_CLOSED');
  t.regex((err as Error).message, /gave up after 2 reconnects/);
  t.is(w.pushCounters.reconnects, 2);
  t.is(codeOf(t.throws(() => w.write(0, Buffer.from('x')))), 'CONNECTION_CLOSED');
  await server.close();
});

test('a push that is never answered times out and is retried on a new connection', async (t) => {
  const server = await FakeServer.start({ onPush: (_f, i) => (i === 0 ? 'ignore' : 'ack') });
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1, { pushTimeoutMs: 200 });
  w.write(0, Buffer.from('slow'));
  const result = await w.close();
  t.true(result.won);
  t.is(w.pushCounters.reconnects, 1);
  await conn.close();
  await server.close();
});

test('a corrupt block on read is CHECKSUM_MISMATCH and never yielded', async (t) => {
  const server = await FakeServer.start({
    readFrameBytes: 4096,
    corruptRead: (h, data) => {
      if (h.partition !== 0 || h.seq !== 2) return data;
      const bad = Buffer.from(data);
      bad[bad.length >> 1]! ^= 0x40;
      return bad;
    },
  });
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1, { blockBytes: 4096 });
  for (let i = 0; i < 2000; i++) w.write(0, recordOf(0, 0, i));
  await w.close();
  const reader = new ShuffleReader({ connection: conn, appId: 'app', shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1 });
  let blocks = 0;
  const err = await t.throwsAsync(async () => {
    for await (const b of reader.readBlocks()) {
      t.true(b.data.length > 0);
      blocks++;
    }
  });
  t.is(codeOf(err), 'CHECKSUM_MISMATCH');
  t.is(blocks, 2, 'the blocks before the bad one, not the bad one');
  await conn.close();
  await server.close();
});

test('ReadEnd counts that disagree with what arrived are CORRUPT_DATA', async (t) => {
  const server = await FakeServer.start({ lieInReadEnd: true });
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1);
  w.write(0, Buffer.from('x'));
  await w.close();
  const err = await t.throwsAsync(readAll(conn, 1, [0, 1]));
  t.is(codeOf(err), 'CORRUPT_DATA');
  await conn.close();
  await server.close();
});

test('breaking out of a read cancels the stream; credit is granted as data is consumed', async (t) => {
  const server = await FakeServer.start({ readFrameBytes: 4096 });
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1, { codec: 'none', blockBytes: 4096 });
  for (let i = 0; i < 20_000; i++) w.write(0, recordOf(0, 0, i));
  await w.close();
  const reader = new ShuffleReader({
    connection: conn, appId: 'app', shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1,
    options: { creditBytes: 64 * 1024 },
  });
  let n = 0;
  for await (const _ of reader.readBlocks()) {
    if (++n === 100) break;
  }
  t.is(n, 100);
  t.true(server.credits.length > 0, 'ReadCredit was sent');
  t.true(server.credits.every((c) => c <= 64 * 1024 + 4096));
  t.is(conn.streamCount, 0, 'a cancelled stream is forgotten at once');
  await new Promise((r) => setTimeout(r, 50));
  t.is(server.cancels, 1);
  // More cancelled reads than a connection may have streams: none leak.
  for (let i = 0; i < 70; i++) {
    for await (const _ of reader.readBlocks()) break;
  }
  t.is(conn.streamCount, 0);
  // The connection is still usable after the cancelled stream.
  const got = await readAll(conn, 1, [0, 1]);
  t.is(got.get(0)!.length, 20_000);
  await conn.close();
  await server.close();
});

test('a read on a closed connection fails with CONNECTION_CLOSED', async (t) => {
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  await conn.close();
  const err = await t.throwsAsync(readAll(conn, 1, [0, 1]));
  t.is(codeOf(err), 'CONNECTION_CLOSED');
  await server.close();
});

test('abort rejects further writes and commits nothing', async (t) => {
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1);
  w.write(0, Buffer.from('x'));
  w.abort();
  t.is(codeOf(t.throws(() => w.write(0, Buffer.from('y')))), 'INVALID_ARGUMENT');
  await t.throwsAsync(w.close());
  t.is(server.commits.size, 0);
  await conn.close();
  await server.close();
});

test('a connection lost during a read fails the read with CONNECTION_CLOSED', async (t) => {
  const server = await FakeServer.start({ readFrameBytes: 4096 });
  const conn = await Connection.connect(server.address);
  const w = writer(conn, 0, 0, 1, { codec: 'none', blockBytes: 4096 });
  for (let i = 0; i < 20_000; i++) w.write(0, recordOf(0, 0, i));
  await w.close();
  const reader = new ShuffleReader({
    connection: conn, appId: 'app', shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1,
    options: { creditBytes: 64 * 1024 },
  });
  let n = 0;
  const err = await t.throwsAsync(async () => {
    for await (const _ of reader.readBlocks()) {
      if (++n === 5) server.dropAll();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  t.is(codeOf(err), 'CONNECTION_CLOSED');
  t.true(n < 100);
  await server.close();
});
