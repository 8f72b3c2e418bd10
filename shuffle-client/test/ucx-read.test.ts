// Reads over UCX (one-sided gets from the server's registered segment memory)
// against real server processes. UCX runs here over TCP and shared memory (no
// RDMA hardware); ucx-read-tcp.test.ts runs the same comparison over TCP only.
// The oracle is the WebSocket read of the same ranges: same blocks, same order.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import test from 'ava';

import { httpGet, killServer, removeDir, startServer, stopServer, type ServerProcess } from '../../shuffle-server/test/helpers/server-process.js';
import { Connection } from '../src/connection.js';
import { unregisterApp, unregisterShuffle } from '../src/control.js';
import { ShuffleReader } from '../src/reader.js';
import { UcxReadStream } from '../src/ucx-read-stream.js';
import { SHUFFLE_ID, codeOf, connectFor, readAll, registerFor, writeRecords, writerFor } from './shuffle-fixtures.js';
import { readBlockList, writeTrickyShuffle } from './ucx-fixtures.js';

let server: ServerProcess;

test.before(async () => {
  // Small segments, so a shuffle spans several sealed segments (regions).
  server = await startServer({ args: ['--segment-bytes-max', String(16 * 1024 * 1024), '--ucx', 'on'] });
});

test.after.always(async () => {
  if (server !== undefined) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

async function metric(address: string, name: string): Promise<number> {
  const { body } = await httpGet(address, '/metrics');
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

test('the server advertises its UCX listener in the handshake and in /healthz', async (t) => {
  const conn = await connectFor(t, server.address);
  t.true(conn.ucxPort > 0);
  const health = JSON.parse((await httpGet(server.address, '/healthz')).body) as { native: { loaded: boolean; crc32c: string }; ucx: { enabled: boolean; port: number } };
  t.true(health.native.loaded);
  t.is(health.native.crc32c, 'native');
  t.deepEqual(health.ucx.enabled, true);
  t.is(health.ucx.port, conn.ucxPort);
});

test('a UCX read yields the same blocks in the same order as a WebSocket read, for every range', async (t) => {
  const app = 'ucx-same-blocks';
  const conn = await connectFor(t, server.address);
  const numPartitions = 7;
  await writeTrickyShuffle(t, conn, app, numPartitions, true);
  const ranges: Array<[[number, number], [number, number]]> = [
    [[0, numPartitions], [0, 5]], [[1, 2], [0, 5]], [[2, 5], [1, 3]], [[0, numPartitions], [2, 3]], [[3, 3], [0, 5]], [[0, 7], [4, 5]],
  ];
  for (const [partitions, maps] of ranges) {
    const ws = await readBlockList(conn, app, partitions, maps, 'websocket');
    const ucx = await readBlockList(conn, app, partitions, maps, 'ucx');
    t.is(ucx.length, ws.length, `partitions ${partitions} maps ${maps}`);
    t.deepEqual(ucx, ws, `partitions ${partitions} maps ${maps}`);
    t.false(ucx.some((b) => b.mapId === 4 || (b.mapId === 2 && b.attempt === 1)), 'no block of a losing or uncommitted attempt');
  }
  const all = await readBlockList(conn, app, [0, numPartitions], [0, 5], 'ucx');
  t.true(all.length > 100, `${all.length} blocks`);
  t.true(await metric(server.address, 'pegasus_ucx_regions') >= 2, 'the shuffle spans several registered segments');
  await unregisterApp(conn, app);
});

test('records read over UCX equal the records written (oracle), with runs longer than one get piece', async (t) => {
  const app = 'ucx-records';
  const conn = await connectFor(t, server.address);
  const want = await writeTrickyShuffle(t, conn, app, 4, true);
  const got = await readAll(conn, app, { partitions: [0, 4], maps: [0, 5], transport: 'ucx' });
  for (let p = 0; p < 4; p++) t.deepEqual(got.get(p) ?? [], want.get(p) ?? [], `partition ${p}`);
  await unregisterApp(conn, app);
});

test('reads planned while a map is still writing see only committed maps, and a later read sees its commit', async (t) => {
  const app = 'ucx-interleaved';
  const conn = await connectFor(t, server.address);
  await registerFor(conn, app, 2, 3);
  const first = writerFor(conn, app, 0, 0, 3, { blockBytes: 16 * 1024, batchBytes: 64 * 1024 });
  await writeRecords(first, 0, 5_000, (i) => i % 3, new Map());
  t.true((await first.close()).won);
  // Map 1 pushes (and its blocks are flushed with nothing committed) while reads run.
  const second = writerFor(conn, app, 1, 0, 3, { blockBytes: 16 * 1024, batchBytes: 64 * 1024, memoryBytesMax: 1024 * 1024 });
  await writeRecords(second, 1, 40_000, (i) => i % 3, new Map());
  const stream = new ShuffleReader({ connection: conn, appId: app, shuffleId: SHUFFLE_ID, partitionStart: 0, partitionEnd: 3, mapStart: 0, mapEnd: 2, options: { transport: 'ucx' } }).readBlocks();
  t.true(stream instanceof UcxReadStream);
  let blocks = 0;
  for await (const b of stream) {
    t.is(b.mapId, 0, 'only the committed map');
    blocks++;
  }
  t.true(blocks > 0);
  const ucxStream = stream as UcxReadStream;
  t.false(ucxStream.fellBack);
  t.true(ucxStream.fetchedBytes > ucxStream.counters.storedBytes, 'the read fetched whole runs (with the uncommitted blocks) over UCX');
  const during = await readBlockList(conn, app, [0, 3], [0, 2], 'ucx');
  t.deepEqual(during, await readBlockList(conn, app, [0, 3], [0, 2], 'websocket'));
  t.is(during.length, blocks);
  t.true((await second.close()).won);
  const after = await readBlockList(conn, app, [0, 3], [0, 2], 'ucx');
  t.deepEqual(after, await readBlockList(conn, app, [0, 3], [0, 2], 'websocket'));
  t.true(after.some((b) => b.mapId === 1), 'the later commit is seen');
  await unregisterApp(conn, app);
});

test('a shuffle removed while it is read over UCX ends the read with UNKNOWN_SHUFFLE, and its space comes back', async (t) => {
  // A server of its own: the test counts every registered region.
  const own = await startServer({ args: ['--segment-bytes-max', String(16 * 1024 * 1024), '--ucx', 'on'] });
  t.teardown(async () => {
    await stopServer(own);
    await removeDir(own.dataDir);
  });
  const app = 'ucx-removed';
  const conn = await connectFor(t, own.address);
  await writeTrickyShuffle(t, conn, app, 4, true);
  const reader = new ShuffleReader({ connection: conn, appId: app, shuffleId: SHUFFLE_ID, partitionStart: 0, partitionEnd: 4, mapStart: 0, mapEnd: 5, options: { transport: 'ucx' } });
  const stream = reader.readBlocks();
  const first = await stream.next();
  t.false(first.done);
  const other = await connectFor(t, own.address);
  await unregisterShuffle(other, app, SHUFFLE_ID);
  const err = await t.throwsAsync(async () => {
    for (;;) {
      const r = await stream.next();
      if (r.done === true) break;
    }
  });
  t.is(codeOf(err), 'UNKNOWN_SHUFFLE');
  // The lease is over: the segments are unregistered and unmapped, their files gone.
  const dir = join(own.dataDir, 'shuffles', app, String(SHUFFLE_ID));
  t.deepEqual(await readdir(dir).catch(() => []), []);
  let regions = await metric(own.address, 'pegasus_ucx_regions');
  for (const end = Date.now() + 5_000; regions > 0 && Date.now() < end; regions = await metric(own.address, 'pegasus_ucx_regions')) {
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(regions, 0, 'regions of the removed shuffle are released');
  t.is(codeOf(await t.throwsAsync(readBlockList(conn, app, [0, 4], [0, 5], 'ucx'))), 'UNKNOWN_SHUFFLE');
  await unregisterApp(conn, app);
});

test('a shuffle removed and registered again at once is read over UCX with its new data, never the old mapping', async (t) => {
  const app = 'ucx-reregistered';
  const conn = await connectFor(t, server.address);
  await registerFor(conn, app, 1, 2);
  const old = writerFor(conn, app, 0, 0, 2);
  await writeRecords(old, 0, 3_000, (i) => i % 2, new Map(), (m, p, i) => Buffer.from(`old-${m}-${p}-${i}`));
  t.true((await old.close()).won);
  t.true((await readBlockList(conn, app, [0, 2], [0, 1], 'ucx')).length > 0); // registers the segments
  await unregisterShuffle(conn, app, SHUFFLE_ID);
  // Same application, shuffle id and segment file names, within one region sweep.
  await registerFor(conn, app, 1, 2);
  const fresh = writerFor(conn, app, 0, 0, 2);
  await writeRecords(fresh, 0, 3_000, (i) => i % 2, new Map(), (m, p, i) => Buffer.from(`new-${m}-${p}-${i}-longer`));
  t.true((await fresh.close()).won);
  const ucx = await readBlockList(conn, app, [0, 2], [0, 1], 'ucx');
  t.deepEqual(ucx, await readBlockList(conn, app, [0, 2], [0, 1], 'websocket'));
  const records = await readAll(conn, app, { partitions: [0, 2], maps: [0, 1], transport: 'ucx' });
  t.true([...records.values()].flat().every((r) => r.startsWith('new-')), 'only the new records');
  await unregisterApp(conn, app);
});

test('bad UCX read requests get coded errors and the server stays up', async (t) => {
  const app = 'ucx-bad';
  const conn = await connectFor(t, server.address);
  await writeTrickyShuffle(t, conn, app, 2);
  t.is(codeOf(await t.throwsAsync(readBlockList(conn, app, [0, 3], [0, 5], 'ucx'))), 'INVALID_ARGUMENT');
  t.is(codeOf(await t.throwsAsync(readBlockList(conn, 'ucx-nobody', [0, 1], [0, 1], 'ucx'))), 'UNKNOWN_APP');
  t.is(codeOf(await t.throwsAsync(conn.request({ type: 'ReleaseRead', leaseId: 424242 }))), 'NOT_FOUND');
  const ok = await readBlockList(conn, app, [0, 2], [0, 5], 'ucx');
  t.true(ok.length > 0);
  await unregisterApp(conn, app);
});

test('a UCX read of a server killed mid-read fails with a code, and the data is intact after a restart', async (t) => {
  const own = await startServer({ args: ['--ucx', 'on'] });
  t.teardown(async () => {
    await stopServer(own);
    await removeDir(own.dataDir);
  });
  const app = 'ucx-kill';
  const conn = await Connection.connect(own.address);
  const want = await writeTrickyShuffle(t, conn, app, 3, true);
  const stream = new ShuffleReader({ connection: conn, appId: app, shuffleId: SHUFFLE_ID, partitionStart: 0, partitionEnd: 3, mapStart: 0, mapEnd: 5, options: { transport: 'ucx', idleTimeoutMs: 20_000 } }).readBlocks();
  t.true(stream instanceof UcxReadStream);
  t.false((await stream.next()).done);
  await killServer(own);
  const err = await t.throwsAsync(async () => {
    for (;;) if ((await stream.next()).done === true) break;
  });
  t.true(['CONNECTION_CLOSED', 'TIMEOUT'].includes(codeOf(err) ?? ''), `code ${codeOf(err)}: ${String(err)}`);
  await conn.close();
  // Same data directory, new process: every committed block is there, over UCX too.
  const again = await startServer({ dataDir: own.dataDir, args: ['--ucx', 'on'] });
  t.teardown(() => stopServer(again));
  const conn2 = await connectFor(t, again.address);
  const got = await readAll(conn2, app, { partitions: [0, 3], maps: [0, 5], transport: 'ucx' });
  for (let p = 0; p < 3; p++) t.deepEqual(got.get(p) ?? [], want.get(p) ?? [], `partition ${p}`);
});

test('without the native module the server runs over WebSocket, says why, and ucx reads are TRANSPORT_UNAVAILABLE', async (t) => {
  const plain = await startServer({ env: { PEGASUS_NATIVE: 'off' }, args: ['--log-level', 'info'] });
  t.teardown(async () => {
    await stopServer(plain);
    await removeDir(plain.dataDir);
  });
  const health = JSON.parse((await httpGet(plain.address, '/healthz')).body) as { status: string; native: { loaded: boolean; reason: string; crc32c: string }; ucx: { enabled: boolean; reason: string } };
  t.is(health.status, 'ok');
  t.false(health.native.loaded);
  t.regex(health.native.reason, /PEGASUS_NATIVE=off/);
  t.is(health.native.crc32c, 'portable');
  t.false(health.ucx.enabled);
  t.regex(plain.stderr(), /native module not loaded/);
  t.is(plain.stderr().match(/native module not loaded/g)?.length, 1, 'said once');
  const conn = await connectFor(t, plain.address);
  t.is(conn.ucxPort, 0);
  const app = 'ucx-fallback';
  await writeTrickyShuffle(t, conn, app, 3);
  t.is(codeOf(await t.throwsAsync(readBlockList(conn, app, [0, 3], [0, 5], 'ucx'))), 'TRANSPORT_UNAVAILABLE');
  t.is(codeOf(await t.throwsAsync(conn.request({ type: 'PlanRead', appId: app, shuffleId: SHUFFLE_ID, partitionStart: 0, partitionEnd: 3, mapStart: 0, mapEnd: 5 }))), 'TRANSPORT_UNAVAILABLE');
  const auto = await readBlockList(conn, app, [0, 3], [0, 5], 'auto');
  t.deepEqual(auto, await readBlockList(conn, app, [0, 3], [0, 5], 'websocket'));
});
