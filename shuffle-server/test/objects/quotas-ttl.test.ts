// Quotas per top-level directory and TTLs, against a real server: usage
// counted across writes, overwrites, mkdirs, renames and deletes, refused with
// QUOTA_EXCEEDED past the quota, recounted the same after a restart; expired
// files invisible at once and then deleted with their bytes.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { QuotasResponse } from '../../../schemas/ts/admin-api.js';
import { Connection } from '../../../shuffle-client/src/connection.js';
import { ObjectReader } from '../../../shuffle-client/src/object-reader.js';
import { ObjectWriter } from '../../../shuffle-client/src/object-writer.js';
import { deletePath, listDir, makeDirs, pathExists, renamePath, statPath } from '../../../shuffle-client/src/namespace.js';
import { objectLogDirs } from '../helpers/object-logs.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

async function put(conn: Connection, path: string, bytes: number, opts: { overwrite?: boolean } = {}): Promise<void> {
  const w = await ObjectWriter.create(conn, path, { overwrite: opts.overwrite ?? false, chunkBytes: 64 * 1024 });
  try {
    await w.write(randomBytes(bytes));
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

async function quotas(s: ServerProcess, body?: Record<string, unknown>): Promise<QuotasResponse> {
  const res = await fetch(`http://${s.address}/api/v1/quotas`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${res.status} ${text}`);
  return JSON.parse(text) as QuotasResponse;
}

test('quotas: bytes and objects per top-level directory, counted through every change and after a restart', async (t) => {
  let s = await startServer();
  const dataDir = s.dataDir;
  try {
    let c = await Connection.connect(s.address);
    await put(c, '/q/before', 100_000); // usage before the quota counts too
    const set = await quotas(s, { dir: 'q', bytesMax: 1_000_000, objectsMax: 6 });
    t.deepEqual(set.quotas, [{ dir: 'q', bytesMax: 1_000_000, objectsMax: 6, bytesUsed: 100_000, objectsUsed: 2, writingBytes: 0 }]);

    await put(c, '/q/a', 600_000);
    // 100,000 + 600,000 + 400,000 > 1,000,000: the append that passes it is refused, the file never appears.
    await t.throwsAsync(put(c, '/q/b', 400_000), { code: 'QUOTA_EXCEEDED' });
    t.false(await pathExists(c, '/q/b'));
    t.is((await quotas(s)).quotas[0]!.writingBytes, 0, 'the refused writer\'s bytes no longer count');
    // An overwrite counts both files while the new one is written (both are on disk), then the new one only.
    await t.throwsAsync(put(c, '/q/a', 400_000, { overwrite: true }), { code: 'QUOTA_EXCEEDED' });
    await put(c, '/q/a', 300_000, { overwrite: true });
    t.is((await quotas(s)).quotas[0]!.bytesUsed, 400_000);

    await makeDirs(c, '/q/d1/d2'); // objects: q, before, a, d1, d2 = 5
    await t.throwsAsync(makeDirs(c, '/q/d3/d4'), { code: 'QUOTA_EXCEEDED' });
    t.false(await pathExists(c, '/q/d3'), 'a refused mkdirs makes none of its directories');
    await put(c, '/q/d1/small', 10); // 6 objects
    await t.throwsAsync(ObjectWriter.create(c, '/q/one-too-many'), { code: 'QUOTA_EXCEEDED' });

    // A rename into the directory carries the moved tree's usage; within it, nothing changes.
    await put(c, '/other/x/big', 200_000);
    await t.throwsAsync(renamePath(c, '/other/x', '/q/x'), { code: 'QUOTA_EXCEEDED' });
    t.true(await pathExists(c, '/other/x/big'));
    await renamePath(c, '/q/d1', '/q/moved');
    t.deepEqual((await quotas(s)).quotas.map((q) => [q.bytesUsed, q.objectsUsed]), [[400_010, 6]]);

    // Deleting gives the usage back; then the rename fits.
    t.true(await deletePath(c, '/q/a'));
    t.true(await deletePath(c, '/q/moved', { recursive: true }));
    t.deepEqual((await quotas(s)).quotas.map((q) => [q.bytesUsed, q.objectsUsed]), [[100_000, 2]]);
    await renamePath(c, '/other/x', '/q/x');
    const before = (await quotas(s)).quotas;
    t.deepEqual(before.map((q) => [q.bytesUsed, q.objectsUsed]), [[300_000, 4]]);

    // After a restart the usage is counted again from the entries: the same numbers.
    await c.close();
    await stopServer(s);
    s = await startServer({ dataDir });
    c = await Connection.connect(s.address);
    t.deepEqual((await quotas(s)).quotas, before);
    await t.throwsAsync(put(c, '/q/y', 800_000), { code: 'QUOTA_EXCEEDED' });
    // Removing the quota lifts it.
    t.deepEqual((await quotas(s, { dir: 'q' })).quotas, []);
    await put(c, '/q/y', 800_000);

    const bad = await fetch(`http://${s.address}/api/v1/quotas`, { method: 'POST', body: JSON.stringify({ dir: 'a/b', bytesMax: 1 }) });
    t.is(bad.status, 400);
    t.is(((await bad.json()) as { code: string }).code, 'INVALID_PATH');
    const neg = await fetch(`http://${s.address}/api/v1/quotas`, { method: 'POST', body: JSON.stringify({ dir: 'q', bytesMax: -1 }) });
    t.is(neg.status, 400);
    await c.close();
  } finally {
    await stopServer(s);
    await removeDir(dataDir);
  }
});

test('TTL: an expired file disappears at once, its bytes are reclaimed, and its path can be written again', async (t) => {
  const s = await startServer();
  try {
    const c = await Connection.connect(s.address);
    // A long TTL: visible, listed, readable, and keeps its TTL through a rename.
    const long = await c.request({ type: 'CreateObject', path: '/t/long', overwrite: false, ttlMs: 3_600_000, cache: false });
    await c.request({ type: 'CloseObject', handle: long.message.handle, length: 0 });
    await renamePath(c, '/t/long', '/t/renamed');
    t.is((await statPath(c, '/t/renamed')).ttlMs, 3_600_000);

    // A short TTL: written, then gone once its time is up (looked for, bounded; nothing assumes how fast).
    const created = await c.request({ type: 'CreateObject', path: '/t/short', overwrite: false, ttlMs: 300, cache: false });
    const data = randomBytes(300_000);
    await c.request({ type: 'AppendObject', handle: created.message.handle, offset: 0, length: data.length, crc32c: (await import('../../../native/ts/crc32c.js')).crc32c(data) }, [data]);
    const closed = await c.request({ type: 'CloseObject', handle: created.message.handle, length: data.length });
    t.is(closed.message.ttlMs, 300);
    const dirsWithShort = await objectLogDirs(s.dataDir);
    for (let i = 0; i < 600 && (await pathExists(c, '/t/short')); i++) await new Promise((r) => setTimeout(r, 50));
    t.false(await pathExists(c, '/t/short'));
    const names: string[] = [];
    for await (const e of listDir(c, '/t')) names.push(e.name);
    t.deepEqual(names, ['renamed']);
    await t.throwsAsync(ObjectReader.open(c, '/t/short'), { code: 'NOT_FOUND' });
    for (let i = 0; i < 600 && (await objectLogDirs(s.dataDir)) >= dirsWithShort; i++) await new Promise((r) => setTimeout(r, 50));
    t.is(await objectLogDirs(s.dataDir), dirsWithShort - 1, 'the expired file\'s bytes were reclaimed');
    // The path is free again, without overwrite.
    const again = await ObjectWriter.create(c, '/t/short');
    await again.write(Buffer.from('new'));
    await again.close();
    t.is((await statPath(c, '/t/short')).ttlMs, 0);
    const m = await (await fetch(`http://${s.address}/metrics`)).text();
    t.regex(m, /pegasus_objects_expired_total 1\b/);
    await c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('cache files give way, least recently used first, when the store runs short; durable files never do', async (t) => {
  const tier = await (await import('node:fs/promises')).mkdtemp(join((await import('node:os')).tmpdir(), 'pegasus-tier-'));
  // One tier of 80 MiB with 16 MiB segments: short of space (no room for two more segments) past 48 MiB charged.
  const s = await startServer({ args: ['--segment-bytes-max', '16MiB', '--tiers', `disk:${tier}:80MiB`, '--disk-reserve-bytes', '0'] });
  try {
    const c = await Connection.connect(s.address);
    const MiB = 1024 * 1024;
    const write = async (path: string, cache: boolean): Promise<void> => {
      const w = await ObjectWriter.create(c, path, { cache, chunkBytes: MiB });
      await w.write(randomBytes(6 * MiB));
      await w.close();
    };
    await write('/durable/d0', false);
    for (let i = 0; i < 5; i++) await write(`/cache/c${i}`, true);
    t.true((await statPath(c, '/cache/c0')).cache);
    // 36 MiB charged: not short yet. Reading c0 makes it the most recently used.
    await (await ObjectReader.open(c, '/cache/c0')).read(0, 10);
    await write('/durable/d1', false);
    await write('/durable/d2', false); // 54 MiB: short; cache files go, c1 first
    const present = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const e of listDir(c, '/cache')) out.push(e.name);
      return out;
    };
    for (let i = 0; i < 400 && (await present()).includes('c1'); i++) await new Promise((r) => setTimeout(r, 50));
    const left = await present();
    t.false(left.includes('c1'), `c1 (least recently used) evicted: ${left.join(',')}`);
    t.true(left.includes('c0'), 'c0 was read after c1..c4 were written: it stays longer');
    for (const d of ['d0', 'd1', 'd2']) t.true(await pathExists(c, `/durable/${d}`));
    // Filling the store with durable files: every cache file goes, then writers get DISK_FULL.
    let full = false;
    for (let i = 3; i < 20 && !full; i++) {
      try {
        await write(`/durable/d${i}`, false);
      } catch (err) {
        t.is((err as { code?: string }).code, 'DISK_FULL');
        full = true;
      }
    }
    t.true(full, 'the store filled up');
    t.deepEqual(await present(), []);
    for (const d of ['d0', 'd1', 'd2']) t.true(await pathExists(c, `/durable/${d}`));
    const m = await (await fetch(`http://${s.address}/metrics`)).text();
    t.regex(m, /pegasus_objects_evicted_total 5\b/);
    await c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
    await removeDir(tier);
  }
});
