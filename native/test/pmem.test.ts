// PmemSegment (native/src/pmem.rs): a segment file mapped through libpmem2 on an
// ordinary file system, as on any machine without persistent memory.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { nativeBinding, nativeErrorCode } from '../ts/index.js';

const native = nativeBinding();

async function tempFile(): Promise<string> {
  return join(await fsp.mkdtemp(join(tmpdir(), 'pegasus-pmem-')), 'seg');
}

test('NativeModuleIsLoaded so the pmem tier writes through libpmem2', (t) => {
  t.not(native, null);
});

test('GranularityIsPageOnAnOrdinaryFile: libpmem2 falls back to msync persistence', async (t) => {
  const path = await tempFile();
  const seg = await native!.pmemSegmentCreate(path, 1 << 20);
  t.is(seg.granularity, 'PAGE');
  t.is(seg.mappedBytes, 1 << 20);
  t.is((await fsp.stat(path)).size, 1 << 20, 'the file is allocated at its full size');
  await seg.close();
});

test('WrittenPartsReadBackByteForByte with ordinary file reads, and close cuts the preallocated tail', async (t) => {
  const path = await tempFile();
  const seg = await native!.pmemSegmentCreate(path, 4 << 20);
  const parts = [randomBytes(32), randomBytes(48), randomBytes(1 << 20), Buffer.alloc(0), randomBytes(12345)];
  const total = parts.reduce((n, p) => n + p.length, 0);
  t.is(await seg.write(0, parts.slice(0, 2)), 80);
  t.is(await seg.write(80, parts.slice(2)), total - 80);
  // Reads go through the page cache, coherent with the shared mapping.
  const fh = await fsp.open(path, 'r');
  const back = Buffer.alloc(total);
  await fh.read(back, 0, total, 0);
  await fh.close();
  t.true(back.equals(Buffer.concat(parts)));
  await seg.close(total);
  t.is((await fsp.stat(path)).size, total);
  t.true((await fsp.readFile(path)).equals(Buffer.concat(parts)));
  await seg.close(); // idempotent
});

test('WritePastTheMappingIsInvalidArgument and writes nothing', async (t) => {
  const path = await tempFile();
  const seg = await native!.pmemSegmentCreate(path, 4096);
  const err = await t.throwsAsync(seg.write(4000, [Buffer.alloc(97, 1)]));
  t.is(nativeErrorCode(err), 'INVALID_ARGUMENT');
  t.regex(err!.message, /4097|97 bytes at 4000/);
  await seg.close();
  t.true((await fsp.readFile(path)).equals(Buffer.alloc(4096)));
});

test('CreatingAnExistingFileIsStorageIo and leaves it alone', async (t) => {
  const path = await tempFile();
  await fsp.writeFile(path, 'keep');
  const err = await t.throwsAsync(native!.pmemSegmentCreate(path, 4096));
  t.is(nativeErrorCode(err), 'STORAGE_IO');
  t.is(await fsp.readFile(path, 'utf8'), 'keep');
});

test('WriteAfterCloseIsStorageIo', async (t) => {
  const seg = await native!.pmemSegmentCreate(await tempFile(), 4096);
  await seg.close(0);
  const err = await t.throwsAsync(seg.write(0, [Buffer.alloc(1)]));
  t.is(nativeErrorCode(err), 'STORAGE_IO');
});

test('AllocationOnAFullFileSystemIsDiskFull and leaves no file behind', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const dir = await fsp.mkdtemp(join(tmpdir(), 'pegasus-pmem-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    // Mounting needs root (CI and development machines here run as root).
    t.fail('cannot mount a tmpfs: this test needs root to create a small real file system');
    return;
  }
  try {
    const err = await t.throwsAsync(native!.pmemSegmentCreate(join(dir, 'big.seg'), 64 << 20));
    t.is(nativeErrorCode(err), 'DISK_FULL', err!.message);
    t.deepEqual(await fsp.readdir(dir), []);
    const small = await native!.pmemSegmentCreate(join(dir, 'small.seg'), 1 << 20);
    t.is(await small.write(0, [Buffer.alloc(1 << 20, 5)]), 1 << 20);
    await small.close();
  } finally {
    execFileSync('umount', [dir]);
    await fsp.rmdir(dir);
  }
});
