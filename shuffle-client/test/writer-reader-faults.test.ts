// The writer and reader under real faults: connections cut or stalled by a
// real TCP proxy (tcp-proxy.ts), a real server restarted between push and
// commit, a segment file damaged on disk. One shared server process; the
// restart test has its own.
import test, { type ExecutionContext } from 'ava';
import { decodeFrame } from '../../schemas/ts/codec.js';
import {
  makeDataDir, removeDir, startServer, stopServer, type ServerProcess,
} from '../../shuffle-server/test/helpers/server-process.js';
import type { Connection } from '../src/connection.js';
import { heartbeat, unregisterApp } from '../src/control.js';
import { decodeRecords } from '../src/record-codec.js';
import { flipDataByte, listSegmentBlocks } from './segment-files.js';
import {
  SHUFFLE_ID, codeOf, connectFor, proxyFor, readAll, readerFor, recordOf, registerFor, until, writeRecords, writerFor, type Oracle,
} from './shuffle-fixtures.js';
import type { TcpProxy } from './tcp-proxy.js';

let server: ServerProcess;

test.before(async () => {
  server = await startServer({ args: ['--read-frame-bytes', String(64 * 1024)] });
});

test.after.always(async () => {
  if (server !== undefined) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

/** A proxy to the shared server and a connection through it, with the test's shuffle registered. */
async function throughProxy(t: ExecutionContext, appId: string, numMaps: number, numPartitions: number): Promise<{ proxy: TcpProxy; conn: Connection }> {
  const proxy = await proxyFor(t, server.address);
  const conn = await connectFor(t, proxy.address);
  await registerFor(conn, appId, numMaps, numPartitions);
  return { proxy, conn };
}

/** A direct connection to the shared server; `cleanup` unregisters the test's application. */
async function direct(t: ExecutionContext, appId: string): Promise<{ conn: Connection; cleanup: () => Promise<void> }> {
  const conn = await connectFor(t, server.address);
  return { conn, cleanup: () => unregisterApp(conn, appId) };
}

/** Batch numbers of the PushBlocks the client sent, with the proxy connection each went through. */
interface SeenPush {
  connection: number;
  batch: number;
}

function pushOf(payload: Buffer): number | undefined {
  const m = decodeFrame(payload).message;
  return m.type === 'PushBlocks' ? m.blocks[0]?.batch : undefined;
}

test('connections cut mid-push are survived: unacked batches go again with the same numbers, every record arrives once', async (t) => {
  const app = 'wrf-retry';
  const numPartitions = 5;
  const { proxy, conn } = await throughProxy(t, app, 1, numPartitions);
  // Push 3 reaches the server but its Ack is lost; push 6 is lost outright.
  const seen: SeenPush[] = [];
  proxy.onClientMessage = (payload, connection) => {
    const batch = pushOf(payload);
    if (batch === undefined) return 'forward';
    seen.push({ connection, batch });
    return seen.length === 4 ? 'deliver-then-cut' : seen.length === 7 ? 'cut' : 'forward';
  };
  const w = writerFor(conn, app, 0, 0, numPartitions, { codec: 'none', blockBytes: 4096, batchBytes: 8192 });
  const oracle: Oracle = new Map();
  await writeRecords(w, 0, 5_000, (i) => (i * 7) % numPartitions, oracle);
  const result = await w.close();
  t.true(result.won);
  t.true(result.batches > 10, `${result.batches} batches`);
  t.is(w.pushCounters.reconnects, 2);
  t.is(proxy.accepted, 3, 'the writer reconnected through the proxy');
  t.true(w.pushCounters.retriedPushes >= 2);
  t.true(conn.closed, "the caller's connection was the one cut");
  const delivered = seen[3]!;
  const lost = seen[6]!;
  t.true(seen.some((s) => s.batch === delivered.batch && s.connection > delivered.connection), `batch ${delivered.batch} (ack lost) was pushed again`);
  t.true(seen.some((s) => s.batch === lost.batch && s.connection > lost.connection), `batch ${lost.batch} (lost) was pushed again`);
  t.deepEqual([...new Set(seen.map((s) => s.batch))].sort((a, b) => a - b), Array.from({ length: result.batches }, (_, i) => i),
    'batch numbers are 0..batches-1: a retry reuses its number');
  const { conn: reader, cleanup } = await direct(t, app);
  const got = await readAll(reader, app, { partitions: [0, numPartitions], maps: [0, 1] });
  for (let p = 0; p < numPartitions; p++) t.deepEqual(got.get(p), oracle.get(p), `partition ${p}: each record once, in order`);
  await cleanup();
});

test('when reconnects keep failing the writer gives up with the last error', async (t) => {
  const app = 'wrf-give-up';
  const { proxy, conn } = await throughProxy(t, app, 1, 1);
  proxy.onClientMessage = (payload) => (pushOf(payload) === undefined ? 'forward' : 'cut');
  const w = writerFor(conn, app, 0, 0, 1, { maxRetries: 2 });
  w.write(0, Buffer.from('doomed'));
  const err = await t.throwsAsync(w.close());
  t.is(codeOf(err), 'CONNECTION_CLOSED');
  t.regex((err as Error).message, /gave up after 2 reconnects/);
  t.is(w.pushCounters.reconnects, 2);
  t.is(codeOf(t.throws(() => w.write(0, Buffer.from('x')))), 'CONNECTION_CLOSED');
  const { cleanup } = await direct(t, app);
  await cleanup();
});

test('a push that is never answered times out and is retried on a new connection', async (t) => {
  const app = 'wrf-timeout';
  const { proxy, conn } = await throughProxy(t, app, 1, 1);
  let pushes = 0;
  proxy.onClientMessage = (payload) => (pushOf(payload) !== undefined && pushes++ === 0 ? 'drop' : 'forward');
  const w = writerFor(conn, app, 0, 0, 1, { pushTimeoutMs: 200 });
  w.write(0, Buffer.from('slow'));
  const result = await w.close();
  t.true(result.won);
  t.is(w.pushCounters.reconnects, 1);
  t.is(pushes, 2);
  t.is(conn.counters.requestsTimedOut, 1);
  t.deepEqual((await readAll(conn, app, { partitions: [0, 1], maps: [0, 1] })).get(0), ['slow'], 'the first connection still works');
  await unregisterApp(conn, app);
});

test('a commit after a server restart between push and commit is MISSING_BATCHES, not success', async (t) => {
  const app = 'wrf-restart';
  const dataDir = await makeDataDir();
  let s = await startServer({ dataDir });
  // The proxy keeps one address across the restart, which gets a new port.
  const proxy = await proxyFor(t, s.address);
  try {
    const conn = await connectFor(t, proxy.address);
    await registerFor(conn, app, 1, 4);
    const w = writerFor(conn, app, 0, 0, 4, { codec: 'none', blockBytes: 4096, batchBytes: 4096 });
    await writeRecords(w, 0, 2_000, (i) => i % 4, new Map());
    t.true(await until(() => w.pushCounters.acks >= 2 && w.pushCounters.acks === w.pushCounters.pushes), 'pushes acknowledged before the restart');
    await stopServer(s);
    s = await startServer({ dataDir });
    proxy.target = s.address;
    const err = await t.throwsAsync(w.close());
    t.is(codeOf(err), 'MISSING_BATCHES', (err as Error).message);
    t.true(w.pushCounters.reconnects >= 1, 'the commit reached the restarted server');
    // Nothing of the attempt is served; a new attempt (what the engine does next) commits.
    const conn2 = await connectFor(t, s.address);
    t.is((await readAll(conn2, app, { partitions: [0, 4], maps: [0, 1] })).size, 0);
    const retry = writerFor(conn2, app, 0, 1, 4);
    retry.write(2, Buffer.from('from attempt 1'));
    t.true((await retry.close()).won);
    t.deepEqual([...(await readAll(conn2, app, { partitions: [0, 4], maps: [0, 1] })).entries()], [[2, ['from attempt 1']]]);
  } finally {
    await stopServer(s);
    await removeDir(dataDir);
  }
});

test('a block damaged on disk is CHECKSUM_MISMATCH at the reader and is never yielded', async (t) => {
  const app = 'wrf-crc';
  const { conn, cleanup } = await direct(t, app);
  await registerFor(conn, app, 1, 1);
  const w = writerFor(conn, app, 0, 0, 1, { blockBytes: 4096 });
  const oracle: Oracle = new Map();
  await writeRecords(w, 0, 2_000, () => 0, oracle);
  const result = await w.close();
  t.true(result.blocks > 5, `${result.blocks} blocks`);
  // The committed blocks are on disk now; damage the third one's data, not its header.
  const onDisk = await listSegmentBlocks(server.dataDir, app, SHUFFLE_ID);
  t.is(onDisk.length, result.blocks);
  const victim = onDisk[2]!;
  t.deepEqual([victim.partition, victim.batch, victim.seq], [0, 0, 2]);
  await flipDataByte(victim);
  const reader = readerFor(conn, app, { partitions: [0, 1], maps: [0, 1] });
  const records: string[] = [];
  let blocks = 0;
  const err = await t.throwsAsync(async () => {
    for await (const b of reader.readBlocks()) {
      blocks++;
      for (const r of decodeRecords(b.data)) records.push(r.toString());
    }
  });
  t.is(codeOf(err), 'CHECKSUM_MISMATCH', (err as Error).message);
  t.is(blocks, 2, 'the blocks before the bad one, not the bad one');
  t.deepEqual(records, oracle.get(0)!.slice(0, records.length), 'what was yielded is what was written');
  t.false(conn.closed);
  await heartbeat(conn, app);
  await cleanup();
});

test('a ReadData frame lost in transit makes ReadEnd disagree: CORRUPT_DATA', async (t) => {
  const app = 'wrf-lost-frame';
  const { proxy, conn } = await throughProxy(t, app, 1, 1);
  const w = writerFor(conn, app, 0, 0, 1);
  w.write(0, recordOf(0, 0, 0));
  await w.close();
  let dropped = 0;
  proxy.onServerMessage = (payload) => (decodeFrame(payload).message.type === 'ReadData' && dropped++ === 0 ? 'drop' : 'forward');
  const err = await t.throwsAsync(readAll(conn, app, { partitions: [0, 1], maps: [0, 1] }));
  t.is(codeOf(err), 'CORRUPT_DATA', (err as Error).message);
  t.is(dropped, 1);
  await unregisterApp(conn, app);
});

test('a connection lost during a read fails the read with CONNECTION_CLOSED', async (t) => {
  const app = 'wrf-read-cut';
  const { proxy, conn } = await throughProxy(t, app, 1, 1);
  const w = writerFor(conn, app, 0, 0, 1, { codec: 'none', blockBytes: 4096 });
  await writeRecords(w, 0, 20_000, () => 0, new Map());
  const { blocks } = await w.close();
  let n = 0;
  const err = await t.throwsAsync(async () => {
    for await (const _ of readerFor(conn, app, { partitions: [0, 1], maps: [0, 1] }).readBlocks()) {
      if (++n === 5) proxy.cutAll();
    }
  });
  t.is(codeOf(err), 'CONNECTION_CLOSED');
  t.true(n < blocks / 2, `${n} of ${blocks} blocks before the failure`);
  const { cleanup } = await direct(t, app);
  await cleanup();
});
