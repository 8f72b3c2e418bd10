import test from 'ava';
import { createServer, type AddressInfo } from 'node:net';
import { PegasusError } from '../../schemas/ts/errors.js';
import type { PushBlocks } from '../../schemas/ts/messages.js';
import { Connection } from '../src/connection.js';
import { serverUrl } from '../src/server-address.js';
import { heartbeat, registerShuffle, startHeartbeat, unregisterApp, unregisterShuffle } from '../src/control.js';
import { FakeServer } from './fake-server.js';

const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);

const emptyPush: PushBlocks = { type: 'PushBlocks', appId: 'app', shuffleId: 1, blocks: [] };

test('connects, records HelloAck and answers control requests', async (t) => {
  const server = await FakeServer.start({ pushWindow: 3, readFrameBytes: 512 * 1024 });
  const conn = await Connection.connect(server.address);
  t.is(conn.pushWindow, 3);
  t.is(conn.readFrameBytes, 512 * 1024);
  t.is(conn.serverVersion, 'fake');
  await registerShuffle(conn, { appId: 'app-1', shuffleId: 1, numMaps: 2, numPartitions: 4 });
  await heartbeat(conn, 'app-1');
  await unregisterShuffle(conn, 'app-1', 1);
  await unregisterApp(conn, 'app-1');
  await conn.close();
  t.true(conn.closed);
  await server.close();
});

test('bad addresses and ids are INVALID_ARGUMENT / INVALID_ID before any I/O', async (t) => {
  t.is(codeOf(t.throws(() => serverUrl('localhost'))), 'INVALID_ARGUMENT');
  t.is(codeOf(t.throws(() => serverUrl('host:99999'))), 'INVALID_ARGUMENT');
  t.is(serverUrl('[::1]:9527'), 'ws://[::1]:9527/ws');
  await t.throwsAsync(Connection.connect('nope'), { instanceOf: PegasusError });
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  const err = await t.throwsAsync(registerShuffle(conn, { appId: '../etc', shuffleId: 1, numMaps: 1, numPartitions: 1 }));
  t.is(codeOf(err), 'INVALID_ID');
  await conn.close();
  await server.close();
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
  const silent = createServer(() => { /* accept and say nothing */ });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const port = (silent.address() as AddressInfo).port;
  const err = await t.throwsAsync(Connection.connect(`127.0.0.1:${port}`, { connectTimeoutMs: 200 }));
  t.is(codeOf(err), 'TIMEOUT');
  silent.close();
});

test('another protocol version is UNSUPPORTED_VERSION', async (t) => {
  const server = await FakeServer.start({ protocolVersion: 99 });
  const err = await t.throwsAsync(Connection.connect(server.address));
  t.is(codeOf(err), 'UNSUPPORTED_VERSION');
  await server.close();
});

test('an unanswered request is TIMEOUT and keeps its window slot until the connection closes', async (t) => {
  const server = await FakeServer.start({ pushWindow: 1, onPush: () => 'ignore' });
  const conn = await Connection.connect(server.address);
  const err = await t.throwsAsync(conn.request(emptyPush, [], { timeoutMs: 100 }));
  t.is(codeOf(err), 'TIMEOUT');
  t.is(conn.counters.requestsTimedOut, 1);
  t.is(conn.pendingCount, 1, 'the timed-out push still holds its id');
  // The window (1) is still taken by the timed-out push, so this one is never sent.
  const second = conn.request(emptyPush, [], { timeoutMs: 100 });
  t.is(codeOf(await t.throwsAsync(second)), 'TIMEOUT');
  t.is(server.pushCount, 1);
  await conn.close();
  t.is(conn.pendingCount, 0);
  await server.close();
});

test('pending requests fail with CONNECTION_CLOSED when the server drops the connection', async (t) => {
  const server = await FakeServer.start({ onPush: () => 'ignore' });
  const conn = await Connection.connect(server.address);
  const p = conn.request(emptyPush);
  setTimeout(() => server.dropAll(), 20);
  t.is(codeOf(await t.throwsAsync(p)), 'CONNECTION_CLOSED');
  t.true(conn.closed);
  t.is(codeOf(await t.throwsAsync(heartbeat(conn, 'app'))), 'CONNECTION_CLOSED');
  await server.close();
});

test('no more than push_window pushes are in flight', async (t) => {
  const server = await FakeServer.start({ pushWindow: 2 });
  const conn = await Connection.connect(server.address);
  const pushes = [];
  for (let i = 0; i < 20; i++) {
    pushes.push(conn.request({ ...emptyPush, blocks: [] }));
  }
  await Promise.all(pushes);
  t.is(server.pushCount, 20);
  t.true(server.maxInFlightPushes <= 2, `max in flight ${server.maxInFlightPushes}`);
  await conn.close();
  await server.close();
});

test('startHeartbeat sends until stopped and reports failures', async (t) => {
  const server = await FakeServer.start();
  const conn = await Connection.connect(server.address);
  const errors: PegasusError[] = [];
  const stop = startHeartbeat(conn, 'app', 100, (e) => errors.push(e));
  await new Promise((r) => setTimeout(r, 350));
  const sent = conn.counters.framesSent;
  t.true(sent >= 3, `sent ${sent}`);
  stop();
  await new Promise((r) => setTimeout(r, 250));
  t.is(conn.counters.framesSent, sent);
  t.deepEqual(errors, []);
  await conn.close();
  await server.close();
});
