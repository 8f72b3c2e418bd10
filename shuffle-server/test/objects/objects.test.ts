// Objects end to end: a real server process, the TypeScript client's
// ObjectWriter, ObjectReader and namespace calls, real files in a temporary
// directory. Close-to-open visibility, positioned reads, atomic renames,
// deletes that give the space back, bad paths refused with codes.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Connection } from '../../../shuffle-client/src/connection.js';
import { ObjectReader } from '../../../shuffle-client/src/object-reader.js';
import { ObjectWriter } from '../../../shuffle-client/src/object-writer.js';
import { deletePath, listDir, makeDirs, pathExists, renamePath, statPath } from '../../../shuffle-client/src/namespace.js';
import { PathKind } from '../../../schemas/ts/messages.js';
import { objectLogDirs } from '../helpers/object-logs.js';
import { removeDir, startServer, stopServer, killServer, type ServerProcess } from '../helpers/server-process.js';

async function withServer(fn: (s: ServerProcess) => Promise<void>): Promise<void> {
  const s = await startServer();
  try {
    await fn(s);
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
}

async function put(conn: Connection, path: string, data: Buffer, opts: { overwrite?: boolean; chunk?: number } = {}): Promise<void> {
  const w = await ObjectWriter.create(conn, path, { overwrite: opts.overwrite ?? false });
  const step = opts.chunk ?? 100_003;
  for (let at = 0; at < data.length; at += step) await w.write(data.subarray(at, at + step));
  await w.close();
}

async function get(conn: Connection, path: string): Promise<Buffer> {
  const r = await ObjectReader.open(conn, path);
  return r.read(0, r.length);
}

test('a closed object reads back whole and at any range; it is invisible until closed', async (t) => {
  await withServer(async (s) => {
    const writer = await Connection.connect(s.address);
    const other = await Connection.connect(s.address);
    try {
      const data = randomBytes(3 * 1024 * 1024 + 12_345); // 13 blocks of 256 KiB, the last partly filled
      const w = await ObjectWriter.create(writer, '/data/part-00000.bin');
      await w.write(data.subarray(0, 1_000_000));
      t.false(await pathExists(other, '/data/part-00000.bin'), 'not visible before close');
      t.false(await pathExists(other, '/data'), 'parents appear at close, not before');
      await w.write(data.subarray(1_000_000));
      const info = await w.close();
      t.is(info.length, data.length);
      t.is(info.kind, PathKind.FILE);
      t.true(info.tier.startsWith('disk:') || info.tier.includes(':'), `tier ${info.tier}`);

      const st = await statPath(other, '/data/part-00000.bin');
      t.is(st.length, data.length);
      t.is((await statPath(other, '/data')).kind, PathKind.DIRECTORY);
      t.deepEqual(await get(other, '/data/part-00000.bin'), data);

      const r = await ObjectReader.open(other, '/data/part-00000.bin');
      const B = 256 * 1024;
      for (const [off, len] of [[0, 1], [data.length - 8, 8], [B - 3, 7], [B, B], [5 * B + 17, 3 * B + 5], [data.length - 1, 100], [data.length, 10], [123, 0]] as const) {
        const want = data.subarray(Math.min(off, data.length), Math.min(off + len, data.length));
        t.deepEqual(await r.read(off, len), want, `range ${off}+${len}`);
      }
    } finally {
      await writer.close();
      await other.close();
    }
  });
});

test('empty objects, many small ones, listing in name order with pages', async (t) => {
  await withServer(async (s) => {
    const c = await Connection.connect(s.address);
    try {
      await put(c, '/e/empty', Buffer.alloc(0));
      t.is((await statPath(c, '/e/empty')).length, 0);
      t.deepEqual(await get(c, '/e/empty'), Buffer.alloc(0));
      const names = Array.from({ length: 25 }, (_, i) => `f-${String(i).padStart(3, '0')}`);
      for (const n of [...names].reverse()) await put(c, `/many/${n}`, Buffer.from(n));
      await makeDirs(c, '/many/sub/deeper');
      const listed: string[] = [];
      for await (const e of listDir(c, '/many', 7)) listed.push(e.name);
      t.deepEqual(listed, [...names, 'sub'].sort());
      for (const n of names.slice(0, 3)) t.deepEqual(await get(c, `/many/${n}`), Buffer.from(n));
      await t.throwsAsync(async () => { for await (const _ of listDir(c, '/many/f-000')) void _; }, { code: 'NOT_A_DIRECTORY' });
      await t.throwsAsync(async () => { for await (const _ of listDir(c, '/nope')) void _; }, { code: 'NOT_FOUND' });
    } finally {
      await c.close();
    }
  });
});

test('one writer per path; overwrite replaces at close; a reader pinned to the old object is refused', async (t) => {
  await withServer(async (s) => {
    const a = await Connection.connect(s.address);
    const b = await Connection.connect(s.address);
    try {
      const w1 = await ObjectWriter.create(a, '/p/x');
      await t.throwsAsync(ObjectWriter.create(b, '/p/x'), { code: 'ALREADY_EXISTS', message: /being written/ });
      await w1.write(Buffer.from('first'));
      await w1.close();
      await t.throwsAsync(ObjectWriter.create(b, '/p/x'), { code: 'ALREADY_EXISTS' });
      const old = await ObjectReader.open(b, '/p/x');
      await put(a, '/p/x', Buffer.from('second version'), { overwrite: true });
      t.deepEqual(await get(b, '/p/x'), Buffer.from('second version'));
      await t.throwsAsync(old.read(0, 5), { code: 'NOT_FOUND' });
      await t.throwsAsync(ObjectWriter.create(a, '/p'), { code: 'IS_A_DIRECTORY' });
      await t.throwsAsync(ObjectWriter.create(a, '/p/x/y'), { code: 'NOT_A_DIRECTORY' });
      // Nothing can be under a file: reads and deletes find nothing there.
      await t.throwsAsync(statPath(a, '/p/x/y'), { code: 'NOT_FOUND' });
      t.false(await deletePath(a, '/p/x/y'));
      await t.throwsAsync(renamePath(a, '/p/x/y', '/p/z'), { code: 'NOT_FOUND' });
      await t.throwsAsync(makeDirs(a, '/p/x/y'), { code: 'NOT_A_DIRECTORY' });
      t.is(await objectLogDirs(s.dataDir), 0, 'small files live inline in the index: no log');
      await put(a, '/p/big', randomBytes(300_000));
      await put(a, '/p/big', randomBytes(200_000), { overwrite: true });
      t.is(await objectLogDirs(s.dataDir), 1, 'the replaced object\'s log is gone');
      t.regex((await statPath(a, '/p/x')).tier, /^index:/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test('a writer that aborts or whose connection closes leaves nothing, and its bytes are reclaimed', async (t) => {
  await withServer(async (s) => {
    const c = await Connection.connect(s.address);
    try {
      const w = await ObjectWriter.create(c, '/tmp/aborted');
      await w.write(randomBytes(600_000));
      await w.abort();
      t.false(await pathExists(c, '/tmp/aborted'));
      const gone = await Connection.connect(s.address);
      const w2 = await ObjectWriter.create(gone, '/tmp/dropped', { chunkBytes: 64 * 1024 });
      await w2.write(randomBytes(9 * 1024 * 1024)); // past the flush threshold: bytes on disk
      await gone.close();
      // The server drops the writer when it sees the close; a new writer of the path proves it did.
      const w3 = await retry(() => ObjectWriter.create(c, '/tmp/dropped'));
      await w3.close();
      t.is((await statPath(c, '/tmp/dropped')).length, 0);
      // The dropped writer's bytes are reclaimed after its path is free again: wait for the directory count, bounded.
      for (let i = 0; i < 400 && (await objectLogDirs(s.dataDir)) !== 0; i++) await new Promise((r) => setTimeout(r, 25));
      t.is(await objectLogDirs(s.dataDir), 0, 'the dropped writer\'s log is gone; the empty file is inline');
    } finally {
      await c.close();
    }
  });
});

async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== 'ALREADY_EXISTS' || i > 200) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

test('rename moves files and whole directories atomically; refuses what would break the tree', async (t) => {
  await withServer(async (s) => {
    const c = await Connection.connect(s.address);
    try {
      await put(c, '/job/_temporary/0/part-0', Buffer.from('zero'));
      await put(c, '/job/_temporary/0/part-1', Buffer.from('one'));
      await makeDirs(c, '/out');
      await renamePath(c, '/job/_temporary/0', '/out/final');
      t.deepEqual(await get(c, '/out/final/part-1'), Buffer.from('one'));
      t.false(await pathExists(c, '/job/_temporary/0'));
      await renamePath(c, '/out/final/part-0', '/out/p0');
      t.deepEqual(await get(c, '/out/p0'), Buffer.from('zero'));
      await t.throwsAsync(renamePath(c, '/out/p0', '/out/final/part-1'), { code: 'ALREADY_EXISTS' });
      await t.throwsAsync(renamePath(c, '/out', '/out/final/inside'), { code: 'INVALID_ARGUMENT' });
      await t.throwsAsync(renamePath(c, '/missing', '/x'), { code: 'NOT_FOUND' });
      await t.throwsAsync(renamePath(c, '/out/p0', '/no/such/parent'), { code: 'NOT_FOUND' });
      await t.throwsAsync(renamePath(c, '/out/final', '/out/p0/under-a-file'), { code: 'NOT_A_DIRECTORY' });
      await renamePath(c, '/out/p0', '/out/p0'); // onto itself: nothing happens
      t.deepEqual(await get(c, '/out/p0'), Buffer.from('zero'));
    } finally {
      await c.close();
    }
  });
});

test('delete: files, empty and non-empty directories; the space comes back', async (t) => {
  await withServer(async (s) => {
    const c = await Connection.connect(s.address);
    try {
      for (let i = 0; i < 5; i++) await put(c, `/d/a/f${i}`, randomBytes(300_000));
      await put(c, '/d/a/b/c/deep', randomBytes(1000));
      await makeDirs(c, '/d/empty');
      t.is(await objectLogDirs(s.dataDir), 5, 'five logs; the 1,000-byte file is inline');
      await t.throwsAsync(deletePath(c, '/d/a'), { code: 'DIRECTORY_NOT_EMPTY' });
      t.true(await deletePath(c, '/d/empty'));
      t.true(await deletePath(c, '/d/a/f0'));
      t.false(await deletePath(c, '/d/a/f0'));
      t.true(await deletePath(c, '/d', { recursive: true }));
      t.false(await pathExists(c, '/d'));
      t.is(await objectLogDirs(s.dataDir), 0);
      await t.throwsAsync(deletePath(c, '/'), { code: 'INVALID_ARGUMENT' });
    } finally {
      await c.close();
    }
  });
});

test('bad paths and bad appends get codes; the connection and the server go on', async (t) => {
  await withServer(async (s) => {
    const c = await Connection.connect(s.address);
    try {
      for (const p of ['relative', '/a/../b', '/a/./b', '/a//b', '/a/b/', '/nul\u0000x', `/${'x'.repeat(256)}`, '/ctl\u0007']) {
        await t.throwsAsync(statPath(c, p), { code: 'INVALID_PATH' }, JSON.stringify(p));
        await t.throwsAsync(ObjectWriter.create(c, p), { code: 'INVALID_PATH' }, JSON.stringify(p));
      }
      await t.throwsAsync(ObjectWriter.create(c, '/'), { code: 'IS_A_DIRECTORY' });
      const h = (await c.request({ type: 'CreateObject', path: '/bad-append', overwrite: false, ttlMs: 0, cache: false })).message.handle;
      const body = Buffer.from('hello');
      await t.throwsAsync(c.request({ type: 'AppendObject', handle: h, offset: 3, length: 5, crc32c: 0 }, [body]), { code: 'INVALID_ARGUMENT' });
      await t.throwsAsync(c.request({ type: 'AppendObject', handle: h, offset: 0, length: 5, crc32c: 1 }, [body]), { code: 'CHECKSUM_MISMATCH' });
      await t.throwsAsync(c.request({ type: 'AppendObject', handle: h + 100, offset: 0, length: 5, crc32c: 1 }, [body]), { code: 'NOT_FOUND' });
      await t.throwsAsync(c.request({ type: 'CloseObject', handle: h, length: 99 }), { code: 'INVALID_ARGUMENT' });
      t.false(await pathExists(c, '/bad-append'));
      await put(c, '/still/works', Buffer.from('ok'));
      t.deepEqual(await get(c, '/still/works'), Buffer.from('ok'));
      await t.throwsAsync(ObjectReader.open(c, '/still'), { code: 'IS_A_DIRECTORY' });
      await t.throwsAsync(ObjectReader.open(c, '/nothing'), { code: 'NOT_FOUND' });
    } finally {
      await c.close();
    }
  });
});

test('closed objects survive a restart and a kill -9; objects being written at the kill are gone', async (t) => {
  const first = await startServer();
  const dataDir = first.dataDir;
  try {
    const c = await Connection.connect(first.address);
    const data = randomBytes(2 * 1024 * 1024 + 3);
    await put(c, '/keep/one', data);
    await renamePath(c, '/keep/one', '/keep/renamed');
    const open = await ObjectWriter.create(c, '/keep/unfinished', { chunkBytes: 64 * 1024 });
    await open.write(randomBytes(10 * 1024 * 1024));
    await killServer(first);
    await c.close();
    const second = await startServer({ dataDir });
    try {
      const d = await Connection.connect(second.address);
      t.deepEqual(await get(d, '/keep/renamed'), data);
      t.false(await pathExists(d, '/keep/unfinished'));
      t.false(await pathExists(d, '/keep/one'));
      t.is(await objectLogDirs(dataDir), 1, 'the unfinished object\'s bytes were reclaimed at start');
      await put(d, '/keep/after', Buffer.from('new'));
      await d.close();
    } finally {
      await stopServer(second);
    }
    const third = await startServer({ dataDir });
    try {
      const e = await Connection.connect(third.address);
      const names: string[] = [];
      for await (const x of listDir(e, '/keep')) names.push(x.name);
      t.deepEqual(names, ['after', 'renamed']);
      t.deepEqual(await get(e, '/keep/after'), Buffer.from('new'));
      await e.close();
    } finally {
      await stopServer(third);
    }
  } finally {
    await removeDir(dataDir);
  }
});
