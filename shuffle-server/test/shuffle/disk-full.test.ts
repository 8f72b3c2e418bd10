// A real full disk: the data directory is a 48 MiB tmpfs. Writers fill it; the
// flush that hits ENOSPC turns into DISK_FULL for the commit and for pushes,
// the server stays up, committed data stays readable, and once space is freed
// (the filling shuffle is removed) pushes and commits work again.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { httpGet, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { checkRead, makeBatch, pushBatch, readRange, rng, type ModelBlock } from '../helpers/shuffle-model.js';

const APP = 'app-full';

function mountTmpfs(bytes: number): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'pegasus-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmdirSync(dir);
    return null;
  }
}

test('ENOSPC during a flush becomes DISK_FULL; the server stays up, loses nothing committed, and recovers when space is freed', async (t) => {
  const dir = mountTmpfs(48 * 1024 * 1024);
  if (dir === null) {
    // Mounting needs root (CI and development machines here run as root).
    t.fail('cannot mount a tmpfs: this test needs root to create a small real file system');
    return;
  }
  let server: ServerProcess | null = null;
  try {
    server = await startServer({ dataDir: dir, args: ['--disk-reserve-bytes', '0', '--memory-budget-bytes', '64MiB', '--segment-bytes-max', '16MiB'] });
    const c = await RawClient.connect(server.address);
    // Shuffle 1: committed before the disk fills.
    await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 1, numMaps: 1, numPartitions: 4 });
    const r = rng(5);
    const committed: ModelBlock[] = [];
    for (let b = 0; b < 4; b++) {
      const batch = makeBatch(r, 0, 1, b, 4, 4, 200_000);
      await pushBatch(c, APP, 1, batch);
      committed.push(...batch);
    }
    t.is(c.closed, false);
    const ok = await c.request({ type: 'CommitMap', appId: APP, shuffleId: 1, mapId: 0, attempt: 1, batchCount: 4 });
    t.deepEqual(ok.message, { type: 'CommitAck', won: true, winnerAttempt: 1 });

    // Shuffle 2: push 1 MiB batches and commit every 8 until the disk is full.
    await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 2, numMaps: 1000, numPartitions: 4 });
    const block = Buffer.alloc(1024 * 1024, 3);
    let firstFull = '';
    for (let map = 0; map < 1000 && firstFull === ''; map++) {
      for (let batch = 0; batch < 8 && firstFull === ''; batch++) {
        const p = makePush(APP, 2, map, 1, batch, [{ partition: batch % 4, data: block }]);
        const f = await c.request(p.message, p.body);
        if (f.message.type === 'Error') {
          t.is(f.message.code, ErrorCode.DISK_FULL, f.message.message);
          firstFull = `push of map ${map}`;
        }
      }
      if (firstFull !== '') break;
      const f = await c.request({ type: 'CommitMap', appId: APP, shuffleId: 2, mapId: map, attempt: 1, batchCount: 8 });
      if (f.message.type === 'Error') {
        t.is(f.message.code, ErrorCode.DISK_FULL, f.message.message);
        firstFull = `commit of map ${map}`;
      }
    }
    t.not(firstFull, '', 'the 48 MiB disk filled up');
    t.log(`first DISK_FULL at the ${firstFull}`);
    t.is((await httpGet(server.address, '/healthz')).status, 200);
    t.is(checkRead(await readRange(c, APP, 1, 0, 4, 0, 1), committed), null, 'committed data still reads back');

    // Free the space; pushes and commits work again.
    t.is((await c.request({ type: 'UnregisterShuffle', appId: APP, shuffleId: 2 })).message.type, 'Ack');
    await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 3, numMaps: 1, numPartitions: 2 });
    const again = makeBatch(rng(6), 0, 1, 0, 2, 4, 100_000);
    let accepted = false;
    for (let i = 0; i < 40 && !accepted; i++) {
      const p = makePush(APP, 3, 0, 1, 0, again.map((b) => ({ partition: b.partition, data: Buffer.alloc(b.length, 1) })));
      const f = await c.request(p.message, p.body);
      accepted = f.message.type === 'Ack';
      if (!accepted) await new Promise((res) => setTimeout(res, 100));
    }
    t.true(accepted, 'pushes are taken again once space is free');
    const commit3 = await c.request({ type: 'CommitMap', appId: APP, shuffleId: 3, mapId: 0, attempt: 1, batchCount: 1 });
    t.is(commit3.message.type, 'CommitAck');
    c.close();

    // Nothing committed was lost across a restart either.
    await stopServer(server);
    server = await startServer({ dataDir: dir, args: ['--disk-reserve-bytes', '0'] });
    const c2 = await RawClient.connect(server.address);
    t.is(checkRead(await readRange(c2, APP, 1, 0, 4, 0, 1), committed), null);
    c2.close();
  } finally {
    if (server !== null) await stopServer(server);
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  }
});
