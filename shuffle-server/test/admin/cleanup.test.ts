// POST /api/v1/cleanup against real servers: orphans that are really on disk,
// a dry run that removes nothing, a real run that frees exactly what the dry
// run listed, and expiry on demand.
import test from 'ava';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer } from '../helpers/server-process.js';
import { checkRead, readRange } from '../helpers/shuffle-model.js';
import { api, register, writeCommitted } from './admin-helpers.js';

function stray(path: string, bytes: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, Buffer.alloc(bytes, 7));
}

test('cleanup dry run lists orphans and removes nothing; a real run removes them and frees their bytes', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-live', 1, 2, 4)).type, 'Ack');
    const blocks = await writeCommitted(c, 'app-live', 1, 0, 3, 4);
    const root = join(s.dataDir, 'shuffles');
    // An application the server does not hold, with a shuffle and a segment in it.
    stray(join(root, 'ghost-app', '3', '00000000000000000000.seg'), 10_000);
    stray(join(root, 'ghost-app', '3', '00000000000000000001.seg'), 1_000);
    // A shuffle of a held application that the server does not hold.
    stray(join(root, 'app-live', '99', '00000000000000000000.seg'), 5_000);
    mkdirSync(join(root, 'app-live', '100'));
    // An unindexed segment file inside a held shuffle.
    stray(join(root, 'app-live', '1', '00000000000000000042.seg'), 3_000);
    // Foreign names are not ours: left alone.
    stray(join(root, 'app-live', '1', 'notes.txt'), 50);
    stray(join(root, 'README'), 10);
    const segmentsBefore = statSync(join(root, 'app-live', '1', '00000000000000000000.seg')).size;

    const dry = await api(s.address, 'POST', '/api/v1/cleanup', { body: { orphans: true, dryRun: true } });
    t.is(dry.status, 200, dry.text);
    t.is(dry.body['dryRun'], true);
    t.deepEqual(dry.body['expiredApps'], []);
    const listed = (dry.body['orphans'] as Array<{ path: string; bytes: number }>).map((o) => [o.path, o.bytes]).sort();
    t.deepEqual(listed, [
      [join(root, 'app-live', '1', '00000000000000000042.seg'), 3_000],
      [join(root, 'app-live', '100'), 0],
      [join(root, 'app-live', '99'), 5_000],
      [join(root, 'ghost-app'), 11_000],
    ].sort());
    t.is(dry.body['freedBytes'], 19_000);
    // Nothing removed.
    t.true(existsSync(join(root, 'ghost-app', '3', '00000000000000000000.seg')));
    t.true(existsSync(join(root, 'app-live', '99')));
    t.true(existsSync(join(root, 'app-live', '100')));
    t.true(existsSync(join(root, 'app-live', '1', '00000000000000000042.seg')));

    const real = await api(s.address, 'POST', '/api/v1/cleanup', { body: { orphans: true } });
    t.is(real.status, 200, real.text);
    t.is(real.body['dryRun'], false);
    t.deepEqual((real.body['orphans'] as Array<{ path: string; bytes: number }>).map((o) => [o.path, o.bytes]).sort(), listed);
    t.is(real.body['freedBytes'], 19_000);
    t.false(existsSync(join(root, 'ghost-app')));
    t.false(existsSync(join(root, 'app-live', '99')));
    t.false(existsSync(join(root, 'app-live', '100')));
    t.false(existsSync(join(root, 'app-live', '1', '00000000000000000042.seg')));
    t.true(existsSync(join(root, 'app-live', '1', 'notes.txt')));
    t.true(existsSync(join(root, 'README')));
    t.is(statSync(join(root, 'app-live', '1', '00000000000000000000.seg')).size, segmentsBefore);
    // The held shuffle is intact, and keeps taking data after its orphan's segment id was passed over.
    t.is(checkRead(await readRange(c, 'app-live', 1, 0, 4, 0, 1), blocks), null);
    const more = await writeCommitted(c, 'app-live', 1, 1, 2, 4);
    t.is(checkRead(await readRange(c, 'app-live', 1, 0, 4, 0, 2), [...blocks, ...more]), null);
    const again = await api(s.address, 'POST', '/api/v1/cleanup', { body: { orphans: true, expired: true } });
    t.deepEqual(again.body['orphans'], []);
    t.is(again.body['freedBytes'], 0);
    const verify = await api(s.address, 'POST', '/api/v1/verify', { body: { app: 'app-live' } });
    t.deepEqual(verify.body['errors'], []);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('cleanup of expired apps on demand: a dry run names the silent application, a real run removes only it', async (t) => {
  // The periodic expiry is made rare, so only the admin call expires anything.
  const s = await startServer({ args: ['--app-expiry-ms', '2000', '--expiry-check-interval-ms', '3600000'] });
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-silent', 1, 1, 2)).type, 'Ack');
    await writeCommitted(c, 'app-silent', 1, 0, 2, 2);
    t.is((await register(c, 'app-alive', 1, 1, 2)).type, 'Ack');
    const deadline = Date.now() + 2600;
    while (Date.now() < deadline) {
      t.is((await c.request({ type: 'Heartbeat', appId: 'app-alive' })).message.type, 'Ack');
      await new Promise((r) => setTimeout(r, 100));
    }
    const silentBytes = ((await api(s.address, 'GET', '/api/v1/apps/app-silent')).body['diskBytes'] as number);
    t.true(silentBytes > 0);

    const dry = await api(s.address, 'POST', '/api/v1/cleanup', { body: { expired: true, dryRun: true } });
    t.is(dry.status, 200, dry.text);
    t.deepEqual(dry.body['expiredApps'], ['app-silent']);
    t.is(dry.body['freedBytes'], silentBytes);
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-silent')).status, 200);
    t.true(existsSync(join(s.dataDir, 'shuffles', 'app-silent')));

    const real = await api(s.address, 'POST', '/api/v1/cleanup', { body: { expired: true } });
    t.deepEqual(real.body['expiredApps'], ['app-silent']);
    t.is(real.body['freedBytes'], silentBytes);
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-silent')).status, 404);
    t.false(existsSync(join(s.dataDir, 'shuffles', 'app-silent')));
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-alive')).status, 200);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});
