// ShuffleWriter -> real pegasus-server -> ShuffleReader round trips. One server
// process serves the whole file; every test uses its own application id. The
// oracle is a plain map of what was written; failure cases under network and
// disk faults are in writer-reader-faults.test.ts.
import test, { type ExecutionContext } from 'ava';
import { decodeFrame } from '../../schemas/ts/codec.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../../shuffle-server/test/helpers/server-process.js';
import type { Connection } from '../src/connection.js';
import { unregisterApp } from '../src/control.js';
import {
  SHUFFLE_ID, codeOf, concatOracles, connectFor, proxyFor, readAll, readerFor, recordOf, registerFor, until, writeRecords, writerFor, type Oracle,
} from './shuffle-fixtures.js';

/** Small read frames, so reads take many frames and credit grants. */
const READ_FRAME_BYTES = 64 * 1024;

let server: ServerProcess;

test.before(async () => {
  server = await startServer({ args: ['--read-frame-bytes', String(READ_FRAME_BYTES)] });
});

test.after.always(async () => {
  if (server !== undefined) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

async function connectFresh(t: ExecutionContext, appId: string, numMaps: number, numPartitions: number): Promise<Connection> {
  const conn = await connectFor(t, server.address);
  await registerFor(conn, appId, numMaps, numPartitions);
  return conn;
}

/** Removes the test's application; the connection closes in the test's teardown. */
async function done(conn: Connection, appId: string): Promise<void> {
  await unregisterApp(conn, appId);
}

test('records read back per partition in write order, lz4 and none, many partitions, empty ones included', async (t) => {
  const app = 'wr-round-trip';
  const numPartitions = 16;
  const written = 13; // partitions 13..15 get no records
  const conn = await connectFresh(t, app, 2, numPartitions);
  const oracles: Oracle[] = [];
  for (const [map, codec] of [[0, 'lz4'], [1, 'none']] as const) {
    const w = writerFor(conn, app, map, 0, numPartitions, { codec, blockBytes: 8 * 1024, batchBytes: 16 * 1024, memoryBytesMax: 1 << 20 });
    const oracle: Oracle = new Map();
    const stats = await writeRecords(w, map, 30_000, (i) => (i * 7 + map) % written, oracle);
    t.true(stats.memoryPeakBytes <= w.memoryBytesMax + w.blockBytes, `memory peak ${stats.memoryPeakBytes}`);
    const result = await w.close();
    t.true(result.won);
    t.is(result.winnerAttempt, 0);
    t.is(result.records, 30_000);
    t.true(result.batches > 10, `${result.batches} batches`);
    t.is(result.partitionLengths.length, numPartitions);
    t.deepEqual(result.partitionLengths.slice(written), [0, 0, 0]);
    t.is(result.partitionLengths.reduce((a, b) => a + b, 0), result.bytesWritten);
    if (codec === 'lz4') t.true(result.bytesWritten < result.rawBytesWritten / 2, 'lz4 shrank the records');
    else t.is(result.bytesWritten, result.rawBytesWritten, 'none stores the raw bytes');
    oracles.push(oracle);
  }
  // Map 0 committed before map 1 was written, so each partition holds map 0's records first.
  const got = await readAll(conn, app, { partitions: [0, numPartitions], maps: [0, 2] });
  const want = concatOracles(oracles[0]!, oracles[1]!);
  t.deepEqual([...got.keys()].sort((a, b) => a - b), [...want.keys()].sort((a, b) => a - b), 'exactly the written partitions');
  for (let p = 0; p < numPartitions; p++) t.deepEqual(got.get(p) ?? [], want.get(p) ?? [], `partition ${p}`);
  // Ranges of partitions and maps.
  const some = await readAll(conn, app, { partitions: [3, 5], maps: [1, 2] });
  t.deepEqual([...some.keys()], [3, 4]);
  t.deepEqual(some.get(3), oracles[1]!.get(3));
  t.deepEqual(some.get(4), oracles[1]!.get(4));
  t.is((await readAll(conn, app, { partitions: [written, numPartitions], maps: [0, 2] })).size, 0, 'empty partitions read empty');
  t.is((await readAll(conn, app, { partitions: [0, numPartitions], maps: [1, 1] })).size, 0, 'an empty map range reads empty');
  t.is(codeOf(await t.throwsAsync(readAll(conn, app, { partitions: [0, numPartitions + 1], maps: [0, 2] }))), 'INVALID_ARGUMENT');
  await done(conn, app);
});

test('a large write stays within memoryBytesMax plus one block, waiting for acks while over it', async (t) => {
  const app = 'wr-memory';
  const numPartitions = 200;
  const conn = await connectFresh(t, app, 1, numPartitions);
  const w = writerFor(conn, app, 0, 0, numPartitions, { memoryBytesMax: 1 << 20, blockBytes: 64 * 1024 });
  // ~24 MiB of records from 20 bytes to 3 KiB, half of each random (lz4 cannot shrink much).
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const recordFor = (_map: number, p: number, i: number): Buffer => {
    const r = Buffer.alloc(20 + (random() % 3000), `${p}:${i};`);
    for (let k = 0; k < r.length; k += 2) r[k] = random() & 0xff;
    return r;
  };
  const oracle: Oracle = new Map();
  const budget = w.memoryBytesMax + w.blockBytes;
  let waits = 0;
  let peak = 0;
  for (let i = 0; i < 16_000; i++) {
    const p = (i * 31) % numPartitions;
    const r = recordFor(0, p, i);
    const wait = w.write(p, r);
    peak = Math.max(peak, w.memoryBytes());
    if (wait !== undefined) {
      waits++;
      t.true(w.memoryBytes() > w.memoryBytesMax, 'a write waits only while over the bound');
      if (waits === 1) t.is(codeOf(t.throws(() => w.write(0, r))), 'INVALID_ARGUMENT', 'a write during a wait is refused');
      await wait;
      t.true(w.memoryBytes() <= w.memoryBytesMax, 'a wait ends within the bound');
    }
    const list = oracle.get(p) ?? [];
    list.push(r.toString('latin1'));
    oracle.set(p, list);
  }
  t.log(`${waits} waits, memory peak ${peak} bytes, bound ${w.memoryBytesMax} + block ${w.blockBytes}`);
  t.true(waits > 0, 'the bound was reached');
  t.true(peak <= budget, `memory peaked at ${peak} bytes, bound ${w.memoryBytesMax} + block ${w.blockBytes}`);
  const result = await w.close();
  t.true(result.rawBytesWritten > 20 << 20, `${result.rawBytesWritten} raw bytes`);
  const reader = readerFor(conn, app, { partitions: [0, numPartitions], maps: [0, 1] });
  const got: Oracle = new Map();
  for await (const { partition, record } of reader.records()) {
    const list = got.get(partition) ?? [];
    list.push(record.toString('latin1'));
    got.set(partition, list);
  }
  for (let p = 0; p < numPartitions; p++) t.deepEqual(got.get(p), oracle.get(p), `partition ${p}`);
  await done(conn, app);
});

test('records larger than a block become their own block; larger than the maximum are refused', async (t) => {
  const app = 'wr-big-records';
  const conn = await connectFresh(t, app, 1, 2);
  const w = writerFor(conn, app, 0, 0, 2, { blockBytes: 4096 });
  const big = Buffer.alloc(100_000, 5);
  w.write(1, Buffer.from('small'));
  w.write(1, big);
  w.write(1, Buffer.from('after'));
  t.is(codeOf(t.throws(() => w.write(0, Buffer.alloc(w.recordBytesMax + 1)))), 'INVALID_ARGUMENT');
  t.is(codeOf(t.throws(() => w.write(2, big))), 'INVALID_ARGUMENT');
  const result = await w.close();
  t.is(result.blocks, 3);
  const reader = readerFor(conn, app, { partitions: [0, 2], maps: [0, 1] });
  const blocks: number[][] = [];
  for await (const b of reader.readBlocks()) blocks.push([b.partition, b.data.length]);
  t.deepEqual(blocks, [[1, 4 + 5], [1, 4 + 100_000], [1, 4 + 5]]);
  const got = await readAll(conn, app, { partitions: [0, 2], maps: [0, 1] });
  t.deepEqual(got.get(1)!.map((r) => r.length), [5, 100_000, 5]);
  t.true(got.get(1)![1] === big.toString());
  await done(conn, app);
});

test('an empty map commits with batch_count 0 and reads empty', async (t) => {
  const app = 'wr-empty-map';
  const conn = await connectFresh(t, app, 4, 4);
  const result = await writerFor(conn, app, 3, 0, 4).close();
  t.true(result.won);
  t.is(result.batches, 0);
  t.deepEqual(result.partitionLengths, [0, 0, 0, 0]);
  // The commit is on the server: another attempt of map 3 loses to it.
  const late = await writerFor(conn, app, 3, 1, 4).close();
  t.deepEqual([late.won, late.winnerAttempt], [false, 0]);
  t.is((await readAll(conn, app, { partitions: [0, 4], maps: [0, 4] })).size, 0);
  await done(conn, app);
});

test('two attempts of one map: the first commit wins and readers see only its records', async (t) => {
  const app = 'wr-attempts';
  const numPartitions = 3;
  const conn = await connectFresh(t, app, 1, numPartitions);
  const options = { blockBytes: 4096, batchBytes: 8192 };
  const first = writerFor(conn, app, 0, 1, numPartitions, options);
  const second = writerFor(conn, app, 0, 2, numPartitions, options);
  const firstOracle: Oracle = new Map();
  const secondOracle: Oracle = new Map();
  // Both attempts push batches before either commits, as speculative tasks do.
  await Promise.all([
    writeRecords(first, 1, 3_000, (i) => i % numPartitions, firstOracle),
    writeRecords(second, 2, 3_000, (i) => i % numPartitions, secondOracle),
  ]);
  const won = await first.close();
  t.deepEqual([won.won, won.winnerAttempt], [true, 1]);
  const lost = await second.close();
  t.deepEqual([lost.won, lost.winnerAttempt], [false, 1]);
  t.true(lost.batches > 1, 'the loser pushed data too');
  const again = await conn.request({ type: 'CommitMap', appId: app, shuffleId: SHUFFLE_ID, mapId: 0, attempt: 1, batchCount: won.batches });
  t.true(again.message.won, 'repeating the winning commit still wins');
  const got = await readAll(conn, app, { partitions: [0, numPartitions], maps: [0, 1] });
  for (let p = 0; p < numPartitions; p++) t.deepEqual(got.get(p), firstOracle.get(p), `partition ${p}`);
  await done(conn, app);
});

test('breaking out of a read cancels the stream; credit is granted as data is consumed', async (t) => {
  const app = 'wr-cancel';
  const creditBytes = 64 * 1024;
  const conn0 = await connectFresh(t, app, 1, 1);
  const w = writerFor(conn0, app, 0, 0, 1, { codec: 'none', blockBytes: 4096 });
  await writeRecords(w, 0, 20_000, () => 0, new Map());
  await w.close();
  // Read through a proxy that notes what the client sends.
  const proxy = await proxyFor(t, server.address);
  const sent: string[] = [];
  const credits: number[] = [];
  proxy.onClientMessage = (payload) => {
    const m = decodeFrame(payload).message;
    sent.push(m.type);
    if (m.type === 'ReadCredit') credits.push(m.creditBytes);
    return 'forward';
  };
  const conn = await connectFor(t, proxy.address);
  const reader = readerFor(conn, app, { partitions: [0, 1], maps: [0, 1], creditBytes });
  const stream = reader.readBlocks();
  let n = 0;
  for await (const _ of stream) {
    if (++n === 100) break;
  }
  t.is(n, 100);
  t.is(conn.streamCount, 0, 'a cancelled stream is forgotten at once');
  t.true(await until(() => sent.includes('CancelRead')), 'CancelRead reached the server');
  t.is(sent.filter((s) => s === 'CancelRead').length, 1);
  t.true(stream.counters.creditGrants > 0, 'credit was granted as blocks were consumed');
  t.is(credits.length, stream.counters.creditGrants, 'each grant is one ReadCredit on the wire');
  t.true(credits.every((c) => c <= creditBytes + READ_FRAME_BYTES), `credits ${credits.join(', ')}`);
  // More cancelled reads than a connection may have streams (64 on both sides): none leak.
  for (let i = 0; i < 70; i++) {
    for await (const _ of reader.readBlocks()) break;
  }
  t.is(conn.streamCount, 0);
  t.true(await until(() => sent.filter((s) => s === 'CancelRead').length === 71), 'every break sent CancelRead');
  // The connection is still usable after the cancelled streams.
  const got = await readAll(conn, app, { partitions: [0, 1], maps: [0, 1] });
  t.is(got.get(0)!.length, 20_000);
  t.deepEqual(got.get(0)!.slice(0, 3), [0, 1, 2].map((i) => recordOf(0, 0, i).toString()));
  t.false(conn.closed);
  await done(conn, app);
});

test('a read on a closed connection fails with CONNECTION_CLOSED', async (t) => {
  const conn = await connectFor(t, server.address);
  await conn.close();
  const err = await t.throwsAsync(readAll(conn, 'wr-closed', { partitions: [0, 1], maps: [0, 1] }));
  t.is(codeOf(err), 'CONNECTION_CLOSED');
});

test('abort rejects further writes and commits nothing', async (t) => {
  const app = 'wr-abort';
  const conn = await connectFresh(t, app, 1, 1);
  const w = writerFor(conn, app, 0, 0, 1, { blockBytes: 4096, batchBytes: 4096 });
  await writeRecords(w, 0, 2_000, () => 0, new Map());
  t.true(w.pushCounters.pushes > 0, 'some batches were pushed before the abort');
  w.abort();
  t.is(codeOf(t.throws(() => w.write(0, Buffer.from('y')))), 'INVALID_ARGUMENT');
  await t.throwsAsync(w.close());
  t.is((await readAll(conn, app, { partitions: [0, 1], maps: [0, 1] })).size, 0, 'nothing of the aborted attempt is served');
  // The map has no winner yet: the next attempt commits and wins.
  const next = writerFor(conn, app, 0, 1, 1);
  next.write(0, Buffer.from('from attempt 1'));
  const result = await next.close();
  t.deepEqual([result.won, result.winnerAttempt], [true, 1]);
  t.deepEqual((await readAll(conn, app, { partitions: [0, 1], maps: [0, 1] })).get(0), ['from attempt 1']);
  await done(conn, app);
});

test('100,000 small partitions: blocks carry several records, pushes stay full, memory stays bounded, every record reads back once in order', async (t) => {
  // Issue 10: with a buffer of 4 KiB per partition the memory bound was reached
  // after one record per partition, so every block held about one record and
  // every relief pushed a small batch.
  const app = 'wr-many-partitions';
  const numPartitions = 100_000;
  const perMap = 300_000;
  const memoryBytesMax = 16 << 20;
  const batchBytes = 1 << 20;
  const conn = await connectFresh(t, app, 2, numPartitions);
  const oracles: Oracle[] = [];
  const recordFor = (map: number, _p: number, i: number): Buffer => Buffer.from(`m${map}-${i}-`.padEnd(24, 'x'));
  for (const map of [0, 1]) {
    const w = writerFor(conn, app, map, 0, numPartitions, { memoryBytesMax, batchBytes });
    const oracle: Oracle = new Map();
    let x = 0x2545f491 + map;
    const randomPartition = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % numPartitions;
    };
    const stats = await writeRecords(w, map, perMap, randomPartition, oracle, recordFor);
    t.true(stats.memoryPeakBytes <= memoryBytesMax + w.blockBytes, `memory peak ${stats.memoryPeakBytes}`);
    const result = await w.close();
    t.true(result.won);
    t.is(result.records, perMap);
    t.true(result.records >= 2 * result.blocks, `${result.records} records in ${result.blocks} blocks`);
    t.true(result.batches <= 2 * Math.ceil(result.bytesWritten / batchBytes) + 2, `${result.batches} pushes for ${result.bytesWritten} bytes`);
    t.log(`map ${map}: ${result.blocks} blocks, ${result.batches} pushes, ${stats.waits} waits, memory peak ${stats.memoryPeakBytes}`);
    oracles.push(oracle);
  }
  // Read the way reduce tasks do: each its own range of partitions.
  const want = concatOracles(oracles[0]!, oracles[1]!);
  const tasks = 4;
  let read = 0;
  let mismatches = 0;
  for (let k = 0; k < tasks; k++) {
    const range: [number, number] = [k * numPartitions / tasks, (k + 1) * numPartitions / tasks];
    const got = await readAll(conn, app, { partitions: range, maps: [0, 2], creditBytes: 1 << 20 });
    for (let p = range[0]; p < range[1]; p++) {
      const g = got.get(p) ?? [];
      read += g.length;
      if (g.join('|') !== (want.get(p) ?? []).join('|')) mismatches++;
    }
  }
  t.is(read, 2 * perMap, 'every record once');
  t.is(mismatches, 0, 'each partition holds map 0\'s records then map 1\'s, each in write order');
  await done(conn, app);
});
