// Connection against a real pegasus-server process (port 0, temporary data
// directory). Network faults come from a real TCP proxy (tcp-proxy.ts) or from
// killing the server; nothing here imitates the server. The one answer no real
// server here can give, a HelloAck of another protocol version, is the real
// server's HelloAck altered in transit by the proxy.
import test from 'ava';
import { createServer, type AddressInfo } from 'node:net';
import { decodeFrame, encodeFrame } from '../../schemas/ts/codec.js';
import { PegasusError } from '../../schemas/ts/errors.js';
import type { CommitMap, PushBlocks } from '../../schemas/ts/messages.js';
import { PEGASUS_VERSION, PROTOCOL_VERSION } from '../../schemas/ts/version.js';
import { makePush } from '../../shuffle-server/test/helpers/raw-client.js';
import { killServer, removeDir, startServer, stopServer, type ServerProcess } from '../../shuffle-server/test/helpers/server-process.js';
import { Connection } from '../src/connection.js';
import { heartbeat, registerShuffle, startHeartbeat, unregisterApp, unregisterShuffle } from '../src/control.js';
import { ShuffleReader } from '../src/reader.js';
import { serverUrl } from '../src/server-address.js';
import { ShuffleWriter } from '../src/writer.js';
import { codeOf, connectFor, proxyFor, sleep, until } from './shuffle-fixtures.js';

/** The push window and read frame size the shared server advertises (not its defaults, so the test sees them travel). */
const PUSH_WINDOW = 3;
const READ_FRAME_BYTES = 512 * 1024;

let server: ServerProcess;

test.before(async () => {
  server = await startServer({ args: ['--push-window', String(PUSH_WINDOW), '--read-frame-bytes', String(READ_FRAME_BYTES)] });
});

test.after.always(async () => {
  if (server !== undefined) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

/** Rejects if `p` has not settled within `ms`: a hang is a failure, not a test timeout. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

function emptyPush(appId: string): PushBlocks {
  return { type: 'PushBlocks', appId, shuffleId: 1, blocks: [] };
}

test('connects, records HelloAck and answers control requests', async (t) => {
  const conn = await connectFor(t, server.address);
  t.is(conn.pushWindow, PUSH_WINDOW);
  t.is(conn.readFrameBytes, READ_FRAME_BYTES);
  t.is(conn.serverVersion, PEGASUS_VERSION);
  t.is(conn.protocolVersion, PROTOCOL_VERSION);
  await registerShuffle(conn, { appId: 'conn-control', shuffleId: 1, numMaps: 2, numPartitions: 4 });
  await registerShuffle(conn, { appId: 'conn-control', shuffleId: 1, numMaps: 2, numPartitions: 4 }); // idempotent
  await heartbeat(conn, 'conn-control');
  await unregisterShuffle(conn, 'conn-control', 1);
  await unregisterShuffle(conn, 'conn-control', 1); // unknown shuffle: still Ack
  await unregisterApp(conn, 'conn-control');
  await conn.close();
  t.true(conn.closed);
});

test('bad addresses and ids are INVALID_ARGUMENT / INVALID_ID before any I/O', async (t) => {
  t.is(codeOf(t.throws(() => serverUrl('localhost'))), 'INVALID_ARGUMENT');
  t.is(codeOf(t.throws(() => serverUrl('host:99999'))), 'INVALID_ARGUMENT');
  t.is(serverUrl('[::1]:9527'), 'ws://[::1]:9527/ws');
  await t.throwsAsync(Connection.connect('nope'), { instanceOf: PegasusError });
  const conn = await connectFor(t, server.address);
  const err = await t.throwsAsync(registerShuffle(conn, { appId: '../etc', shuffleId: 1, numMaps: 1, numPartitions: 1 }));
  t.is(codeOf(err), 'INVALID_ID');
  t.is(conn.counters.framesSent, 1, 'only the Hello went out');
});

test("Error answers carry the server's code and leave the connection usable", async (t) => {
  const app = 'conn-errors';
  const conn = await connectFor(t, server.address);
  await registerShuffle(conn, { appId: app, shuffleId: 1, numMaps: 2, numPartitions: 2 });
  const commitOf = (shuffleId: number, mapId: number, batchCount: number): CommitMap => (
    { type: 'CommitMap', appId: app, shuffleId, mapId, attempt: 0, batchCount });
  // Sent raw, past the client's own checks, so the server is the one refusing.
  t.is(codeOf(await t.throwsAsync(conn.request({ type: 'RegisterShuffle', appId: '../etc', shuffleId: 1, numMaps: 1, numPartitions: 1 }))), 'INVALID_ID');
  t.is(codeOf(await t.throwsAsync(conn.request(commitOf(99, 0, 0)))), 'UNKNOWN_SHUFFLE');
  t.is(codeOf(await t.throwsAsync(conn.request({ ...commitOf(1, 0, 0), appId: 'conn-never-registered' }))), 'UNKNOWN_APP');
  t.is(codeOf(await t.throwsAsync(registerShuffle(conn, { appId: app, shuffleId: 1, numMaps: 3, numPartitions: 2 }))), 'CONFLICT');
  t.is(codeOf(await t.throwsAsync(conn.request(commitOf(1, 0, 1)))), 'MISSING_BATCHES');
  const bad = makePush(app, 1, 0, 0, 0, [{ partition: 1, data: Buffer.from('block with a wrong crc') }]);
  const push = bad.message as PushBlocks;
  const header = push.blocks[0]!;
  const wrongCrc: PushBlocks = { ...push, blocks: [{ ...header, crc32c: (header.crc32c ^ 1) >>> 0 }] };
  t.is(codeOf(await t.throwsAsync(conn.request(wrongCrc, bad.body))), 'CHECKSUM_MISMATCH');
  t.is(codeOf(await t.throwsAsync(conn.request(commitOf(1, 0, 1)))), 'MISSING_BATCHES', 'the refused block was not stored');
  // The same block with its right CRC is stored, and the map commits.
  t.is((await conn.request(push, bad.body)).message.type, 'Ack');
  const won = await conn.request(commitOf(1, 0, 1));
  t.true(won.message.won);
  t.false(conn.closed);
  await unregisterApp(conn, app);
});

test('answers are matched to their requests by request_id, also when they arrive out of order', async (t) => {
  const app = 'conn-matching';
  // Commits here carry no blocks, so only the group-commit delay holds them back; on a loaded
  // machine 2 ms let them overtake the heartbeats. A server of its own with a long delay makes
  // the order certain.
  const slow = await startServer({ args: ['--commit-flush-delay-ms', '300'] });
  t.teardown(async () => {
    await stopServer(slow);
    await removeDir(slow.dataDir);
  });
  const conn = await connectFor(t, slow.address);
  await registerShuffle(conn, { appId: app, shuffleId: 1, numMaps: 8, numPartitions: 1 });
  const order: string[] = [];
  const track = <T>(name: string, p: Promise<T>): Promise<T> => p.then((v) => {
    order.push(name);
    return v;
  });
  // A commit waits for a flush and an fsync; heartbeats are answered at once.
  const commits = [0, 1, 2].map((mapId) => track(`commit-${mapId}`,
    conn.request({ type: 'CommitMap', appId: app, shuffleId: 1, mapId, attempt: mapId + 10, batchCount: 0 })));
  const beats = [0, 1, 2, 3, 4].map((i) => track(`beat-${i}`, conn.request({ type: 'Heartbeat', appId: app })));
  const failing = conn.request({ type: 'CommitMap', appId: app, shuffleId: 2, mapId: 0, attempt: 0, batchCount: 0 });
  const register = track('register', conn.request({ type: 'RegisterShuffle', appId: app, shuffleId: 1, numMaps: 8, numPartitions: 1 }));
  for (const [i, c] of (await Promise.all(commits)).entries()) {
    t.is(c.message.type, 'CommitAck');
    t.deepEqual([c.message.won, c.message.winnerAttempt], [true, i + 10], `commit of map ${i} got its own answer`);
  }
  for (const b of await Promise.all(beats)) t.is(b.message.type, 'Ack');
  t.is((await register).message.type, 'Ack');
  t.is(codeOf(await t.throwsAsync(failing)), 'UNKNOWN_SHUFFLE');
  t.true(order.indexOf('beat-0') < order.indexOf('commit-0'), `answers arrived in order ${order.join(', ')}`);
  t.is(conn.counters.unmatchedFrames, 0);
  t.is(conn.pendingCount, 0);
  await unregisterApp(conn, app);
});

test('connecting to a closed port is CONNECTION_CLOSED', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const err = await t.throwsAsync(Connection.connect(`127.0.0.1:${port}`));
  t.is(codeOf(err), 'CONNECTION_CLOSED');
});

test('a server that never answers the upgrade is TIMEOUT', async (t) => {
  const proxy = await proxyFor(t, server.address);
  proxy.stall();
  const err = await t.throwsAsync(Connection.connect(proxy.address, { connectTimeoutMs: 200 }));
  t.is(codeOf(err), 'TIMEOUT');
});

test('a server speaking another protocol version is UNSUPPORTED_VERSION', async (t) => {
  // The real server's HelloAck, with its version changed in transit.
  const proxy = await proxyFor(t, server.address);
  proxy.onServerMessage = (payload) => {
    const f = decodeFrame(payload);
    if (f.message.type !== 'HelloAck') return 'forward';
    return { replace: encodeFrame(f.requestId, { ...f.message, protocolVersion: PROTOCOL_VERSION + 98 }) };
  };
  const err = await t.throwsAsync(Connection.connect(proxy.address));
  t.is(codeOf(err), 'UNSUPPORTED_VERSION');
  t.regex((err as Error).message, /speaks protocol 99/);
});

test('an unanswered request is TIMEOUT and keeps its window slot until its late answer', async (t) => {
  const app = 'conn-timeout';
  const proxy = await proxyFor(t, server.address);
  const conn = await connectFor(t, proxy.address);
  await registerShuffle(conn, { appId: app, shuffleId: 1, numMaps: 1, numPartitions: 1 });
  t.is(conn.pushWindow, PUSH_WINDOW);
  const sentBefore = conn.counters.framesSent;
  proxy.stall();
  const stuck = Array.from({ length: PUSH_WINDOW }, () => conn.request(emptyPush(app), [], { timeoutMs: 100 }));
  // The window is full of timed-out pushes, so this one is never sent.
  const queued = conn.request(emptyPush(app), [], { timeoutMs: 100 });
  for (const p of [...stuck, queued]) t.is(codeOf(await t.throwsAsync(p)), 'TIMEOUT');
  t.is(conn.counters.requestsTimedOut, PUSH_WINDOW + 1);
  t.is(conn.counters.framesSent, sentBefore + PUSH_WINDOW, 'the queued push never left');
  t.is(conn.pendingCount, PUSH_WINDOW, 'the timed-out pushes still hold their ids');
  proxy.resume();
  t.true(await until(() => conn.pendingCount === 0), 'the late answers arrived');
  t.is(conn.counters.lateAnswers, PUSH_WINDOW);
  t.is((await conn.request(emptyPush(app), [], { timeoutMs: 5_000 })).message.type, 'Ack', 'the slots were given back');
  await unregisterApp(conn, app);
});

test('no more than push_window pushes are in flight, and the server sees no violation', async (t) => {
  const app = 'conn-window';
  const proxy = await proxyFor(t, server.address);
  const conn = await connectFor(t, proxy.address);
  await registerShuffle(conn, { appId: app, shuffleId: 1, numMaps: 1, numPartitions: 2 });
  const sentBefore = conn.counters.framesSent;
  proxy.stall();
  const pushes = Array.from({ length: 20 }, (_, batch) => {
    const p = makePush(app, 1, 0, 0, batch, [{ partition: batch % 2, data: Buffer.alloc(1024, batch) }]);
    return conn.request(p.message as PushBlocks, p.body);
  });
  await sleep(50);
  t.is(conn.counters.framesSent - sentBefore, PUSH_WINDOW, 'only a window of pushes left the client');
  // Released at once, the server gets exactly one window; more would be FLOW_CONTROL_VIOLATION and a close.
  proxy.resume();
  for (const a of await Promise.all(pushes)) t.is(a.message.type, 'Ack');
  t.false(conn.closed);
  const commit = await conn.request({ type: 'CommitMap', appId: app, shuffleId: 1, mapId: 0, attempt: 0, batchCount: 20 });
  t.true(commit.message.won, 'all 20 batches arrived');
  await unregisterApp(conn, app);
});

test('when the server dies, pending requests and open reads fail with CONNECTION_CLOSED, without a hang', async (t) => {
  const app = 'conn-kill';
  // Its own server, since this test kills it. Commits wait 500 ms to be grouped, so one is surely
  // pending at the kill; 64 KiB read frames, so a read is surely waiting for credit.
  const doomed = await startServer({ args: ['--commit-flush-delay-ms', '500', '--read-frame-bytes', '65536'] });
  try {
    const conn = await connectFor(t, doomed.address);
    await registerShuffle(conn, { appId: app, shuffleId: 1, numMaps: 2, numPartitions: 1 });
    const w = new ShuffleWriter({ connection: conn, appId: app, shuffleId: 1, mapId: 0, attempt: 0, numPartitions: 1, options: { codec: 'none', blockBytes: 4096 } });
    for (let i = 0; i < 5_000; i++) w.write(0, Buffer.alloc(100, i));
    await w.close();
    // A read that stalls for credit after its first frame, and a commit waiting for its flush.
    const reader = new ShuffleReader({
      connection: conn, appId: app, shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, options: { creditBytes: 64 * 1024 },
    });
    const stream = reader.readBlocks();
    t.false((await stream.next()).done);
    const commit = conn.request({ type: 'CommitMap', appId: app, shuffleId: 1, mapId: 1, attempt: 0, batchCount: 0 });
    await killServer(doomed);
    t.is(codeOf(await t.throwsAsync(within(commit, 5_000, 'the pending commit'))), 'CONNECTION_CLOSED');
    const readErr = await t.throwsAsync(within((async () => {
      for (let r = await stream.next(); !r.done; r = await stream.next());
    })(), 5_000, 'the open read'));
    t.is(codeOf(readErr), 'CONNECTION_CLOSED');
    t.true(conn.closed);
    t.is(conn.pendingCount, 0);
    t.is(conn.streamCount, 0);
    t.is(codeOf(await t.throwsAsync(heartbeat(conn, app))), 'CONNECTION_CLOSED');
  } finally {
    await killServer(doomed);
    await removeDir(doomed.dataDir);
  }
});

test('startHeartbeat sends until stopped and reports failures', async (t) => {
  const app = 'conn-heartbeat';
  const proxy = await proxyFor(t, server.address);
  const conn = await connectFor(t, proxy.address);
  const errors: PegasusError[] = [];
  const stop = startHeartbeat(conn, app, 100, (e) => errors.push(e));
  // Timers drift on a loaded 2-core machine: wait for the ticks instead of sleeping a fixed time.
  t.true(await until(() => conn.counters.framesSent >= 3), `sent ${conn.counters.framesSent}`);
  t.deepEqual(errors, []);
  // The connection goes away: the next ticks report CONNECTION_CLOSED and keep going.
  proxy.cutAll();
  t.true(await until(() => errors.length >= 2), `${errors.length} failures reported`);
  t.true(errors.every((e) => e.code === 'CONNECTION_CLOSED'));
  stop();
  const reported = errors.length;
  await sleep(250);
  t.is(errors.length, reported, 'nothing after stop');
  await unregisterApp(await connectFor(t, server.address), app);
});
