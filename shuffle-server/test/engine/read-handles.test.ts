// The read handle cache (engine/read-handles.ts) on real files in a temporary
// folder: handles are shared and kept between reads, idle ones are bounded, a
// failed open is not kept, and a forgotten path never hands out the handle of
// a deleted file, even when a new file takes its place.
import test from 'ava';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadHandleCache } from '../../src/engine/read-handles.js';

async function folder(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), 'pegasus-read-handles-'));
}

async function readAll(h: Promise<fsp.FileHandle>): Promise<string> {
  const fh = await h;
  const buf = Buffer.alloc(64);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  return buf.subarray(0, bytesRead).toString();
}

/** A cache that counts the files it opens. */
function counting(idleMax: number): { cache: ReadHandleCache; opens: string[] } {
  const opens: string[] = [];
  const cache = new ReadHandleCache(idleMax, (path) => {
    opens.push(path);
    return fsp.open(path, 'r');
  });
  return { cache, opens };
}

test('AHandleIsSharedAndKeptBetweenReads', async (t) => {
  const dir = await folder();
  const path = join(dir, 'a.seg');
  await fsp.writeFile(path, 'alpha');
  const { cache, opens } = counting(4);
  const a = cache.acquire(path);
  const b = cache.acquire(path);
  t.is(await readAll(a.handle), 'alpha');
  t.is(a.handle, b.handle);
  cache.release(a);
  cache.release(b);
  t.is(cache.idleCount, 1);
  const c = cache.acquire(path);
  t.is(await readAll(c.handle), 'alpha');
  cache.release(c);
  t.deepEqual(opens, [path]);
  t.throws(() => cache.release(c), { message: /released more often than acquired/ });
  await fsp.rm(dir, { recursive: true });
});

test('IdleHandlesAreBoundedLeastRecentlyUsedFirst', async (t) => {
  const dir = await folder();
  const paths = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const p = join(dir, `${i}.seg`);
    await fsp.writeFile(p, `file ${i}`);
    return p;
  }));
  const { cache, opens } = counting(2);
  const held = cache.acquire(paths[0]!); // held: never closed, not counted as idle
  for (const p of paths.slice(1)) {
    const h = cache.acquire(p);
    await h.handle;
    cache.release(h);
  }
  t.is(cache.idleCount, 2);
  t.is(cache.size, 3);
  // paths[1] was the least recently used idle handle: it was closed, so it opens again.
  const again = cache.acquire(paths[1]!);
  t.is(await readAll(again.handle), 'file 1');
  cache.release(again);
  t.is(opens.filter((p) => p === paths[1]).length, 2);
  t.is(await readAll(held.handle), 'file 0');
  cache.release(held);
  t.true(cache.idleCount <= 2);
  await fsp.rm(dir, { recursive: true });
});

test('AFailedOpenIsNotKept', async (t) => {
  const dir = await folder();
  const path = join(dir, 'late.seg');
  const { cache, opens } = counting(4);
  const h = cache.acquire(path);
  await t.throwsAsync(h.handle, { code: 'ENOENT' });
  cache.release(h);
  await fsp.writeFile(path, 'now here');
  const h2 = cache.acquire(path);
  t.is(await readAll(h2.handle), 'now here');
  cache.release(h2);
  t.is(opens.length, 2);
  await fsp.rm(dir, { recursive: true });
});

test('AForgottenPathGetsTheNewFileNotTheDeletedOne', async (t) => {
  const dir = await folder();
  const logDir = join(dir, 'app', '0');
  await fsp.mkdir(logDir, { recursive: true });
  const path = join(logDir, '1.seg');
  const other = join(dir, 'app', '01.seg'); // shares the directory's name as a prefix, not the directory
  await fsp.writeFile(path, 'old data');
  await fsp.writeFile(other, 'other');
  const { cache } = counting(4);
  const reading = cache.acquire(path); // a read in progress while the log is removed
  const o = cache.acquire(other);
  t.is(await readAll(reading.handle), 'old data');
  cache.release(o);
  cache.forgetUnder(logDir);
  t.is(cache.size, 1, 'only the other file is still cached');
  await fsp.rm(logDir, { recursive: true });
  // The application registers again: a new file at the same path.
  await fsp.mkdir(logDir, { recursive: true });
  await fsp.writeFile(path, 'new data');
  const fresh = cache.acquire(path);
  t.not(fresh.handle, reading.handle);
  t.is(await readAll(fresh.handle), 'new data');
  // The read that held the old handle still reads what it opened, then lets it go.
  t.is(await readAll(reading.handle), 'old data');
  cache.release(reading);
  cache.release(fresh);
  cache.forget(path);
  const third = cache.acquire(path);
  t.not(third.handle, fresh.handle);
  cache.release(third);
  await fsp.rm(dir, { recursive: true });
});
