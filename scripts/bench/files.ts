// The files phase of `npm run bench` (issue 11): files through the objects
// tenant against the same bytes through the local file system on the same disk,
// in the same run.
//   large: one object of `bytes` written through ObjectWriter (1 MiB appends,
//          closed: durable per commitDurability) and read back whole through
//          ObjectReader; the baseline writes the same bytes with 1 MiB writes and
//          one fdatasync at the end (what a Hadoop client's write + hsync does)
//          and reads them back.
//   small: `count` objects of 4 KiB created (each written and closed), listed
//          and read; the baseline creates, lists and reads as many 4 KiB files
//          in one directory (no fsync per file: neither side syncs per file in
//          the default commitDurability process).
import { randomFillSync } from 'node:crypto';
import { closeSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../../shuffle-client/src/connection.js';
import { listDir } from '../../shuffle-client/src/namespace.js';
import { ObjectReader } from '../../shuffle-client/src/object-reader.js';
import { ObjectWriter } from '../../shuffle-client/src/object-writer.js';

const MiB = 1024 * 1024;
const SMALL_BYTES = 4096;
/** Creates in flight at once in the small-objects phase, over CONNECTIONS connections. */
const SMALL_CONCURRENCY = 32;
const CONNECTIONS = 4;

export interface FilesResult {
  largeBytes: number;
  largeWriteMBps: number;
  largeReadMBps: number;
  localWriteMBps: number;
  localReadMBps: number;
  largeWriteRatio: number;
  largeReadRatio: number;
  smallCount: number;
  smallCreatesPerSec: number;
  smallListPerSec: number;
  smallReadsPerSec: number;
  localCreatesPerSec: number;
  localListPerSec: number;
  localReadsPerSec: number;
  serverCpuSecPerGiBLargeWrite: number;
  serverCpuSecPerGiBLargeRead: number;
}

type Measure = <T>(phase: () => Promise<T>) => Promise<{ value: T; serverCpuS: number; clientCpuS: number }>;

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

export async function benchFiles(address: string, dir: string, bytes: number, count: number, measured: Measure): Promise<FilesResult> {
  const pool = randomFillSync(Buffer.allocUnsafe(8 * MiB));
  const chunks = Math.ceil(bytes / MiB);
  const chunkAt = (i: number): Buffer => pool.subarray((i * MiB) % pool.length, (i * MiB) % pool.length + Math.min(MiB, bytes - i * MiB));

  // Local baseline, large: 1 MiB writes, one fdatasync; then read back.
  const local = join(dir, 'local-large');
  let t = process.hrtime.bigint();
  const fd = openSync(local, 'w');
  for (let i = 0; i < chunks; i++) writeSync(fd, chunkAt(i));
  fdatasyncSync(fd);
  closeSync(fd);
  const localWrite = seconds(t);
  t = process.hrtime.bigint();
  const rfd = openSync(local, 'r');
  const buf = Buffer.allocUnsafe(MiB);
  for (let n = readSync(rfd, buf); n > 0; n = readSync(rfd, buf)) void n;
  closeSync(rfd);
  const localRead = seconds(t);
  rmSync(local, { force: true });

  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => Connection.connect(address)));
  const c = conns[0]!;
  // Pegasus, large.
  t = process.hrtime.bigint();
  const written = await measured(async () => {
    const w = await ObjectWriter.create(c, '/bench/large');
    for (let i = 0; i < chunks; i++) await w.write(chunkAt(i));
    await w.close();
  });
  const largeWrite = seconds(t);
  t = process.hrtime.bigint();
  const read = await measured(async () => {
    const r = await ObjectReader.open(c, '/bench/large');
    let got = 0;
    for await (const piece of r.stream()) got += piece.length;
    if (got !== bytes) throw new Error(`read ${got} bytes of ${bytes}`);
  });
  const largeRead = seconds(t);

  // Small objects: created with SMALL_CONCURRENCY in flight, listed, read.
  const small = pool.subarray(0, SMALL_BYTES);
  const names = Array.from({ length: count }, (_, i) => `o${String(i).padStart(6, '0')}`);
  const parallel = async (fn: (i: number) => Promise<void>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: SMALL_CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) await fn(i);
    }));
  };
  t = process.hrtime.bigint();
  await parallel(async (i) => {
    const w = await ObjectWriter.create(conns[i % CONNECTIONS]!, `/bench/small/${names[i]}`);
    await w.write(small);
    await w.close();
  });
  const smallCreate = seconds(t);
  t = process.hrtime.bigint();
  let listed = 0;
  for await (const _ of listDir(c, '/bench/small')) listed++;
  if (listed !== count) throw new Error(`listed ${listed} of ${count}`);
  const smallList = seconds(t);
  t = process.hrtime.bigint();
  await parallel(async (i) => {
    const r = await ObjectReader.open(conns[i % CONNECTIONS]!, `/bench/small/${names[i]}`);
    await r.read(0, SMALL_BYTES);
  });
  const smallRead = seconds(t);
  await Promise.all(conns.map((x) => x.close()));

  // Local baseline, small.
  const ldir = join(dir, 'local-small');
  mkdirSync(ldir, { recursive: true });
  t = process.hrtime.bigint();
  for (const n of names) writeFileSync(join(ldir, n), small);
  const localCreate = seconds(t);
  t = process.hrtime.bigint();
  const localListed = readdirSync(ldir).length;
  const localList = seconds(t);
  if (localListed !== count) throw new Error(`listed ${localListed} local files`);
  t = process.hrtime.bigint();
  for (const n of names) readFileSync(join(ldir, n));
  const localReadSmall = seconds(t);
  rmSync(ldir, { recursive: true, force: true });

  const mb = (s: number): number => bytes / MiB / s;
  const gib = bytes / (1024 * MiB);
  return {
    largeBytes: bytes,
    largeWriteMBps: round(mb(largeWrite)), largeReadMBps: round(mb(largeRead)), localWriteMBps: round(mb(localWrite)), localReadMBps: round(mb(localRead)),
    largeWriteRatio: round(localWrite / largeWrite, 3), largeReadRatio: round(localRead / largeRead, 3),
    smallCount: count,
    smallCreatesPerSec: round(count / smallCreate, 0), smallListPerSec: round(count / smallList, 0), smallReadsPerSec: round(count / smallRead, 0),
    localCreatesPerSec: round(count / localCreate, 0), localListPerSec: round(count / Math.max(localList, 1e-6), 0), localReadsPerSec: round(count / localReadSmall, 0),
    serverCpuSecPerGiBLargeWrite: round(written.serverCpuS / gib, 2), serverCpuSecPerGiBLargeRead: round(read.serverCpuS / gib, 2),
  };
}

export function printFiles(f: FilesResult, out: (line: string) => void): void {
  out('');
  out(`| files: one ${(f.largeBytes / MiB / 1024).toFixed(1)} GiB object, ${f.smallCount} objects of 4 KiB | Pegasus (TypeScript client) | local file system, same disk | ratio |`);
  out('| --- | ---: | ---: | ---: |');
  out(`| large write, MB/s (local: write + fdatasync) | ${f.largeWriteMBps} | ${f.localWriteMBps} | ${f.largeWriteRatio} |`);
  out(`| large read, MB/s | ${f.largeReadMBps} | ${f.localReadMBps} | ${f.largeReadRatio} |`);
  out(`| small creates per second (written and closed) | ${f.smallCreatesPerSec} | ${f.localCreatesPerSec} | ${round(f.smallCreatesPerSec / f.localCreatesPerSec, 3)} |`);
  out(`| small listing, entries per second | ${f.smallListPerSec} | ${f.localListPerSec} | |`);
  out(`| small reads per second | ${f.smallReadsPerSec} | ${f.localReadsPerSec} | ${round(f.smallReadsPerSec / f.localReadsPerSec, 3)} |`);
  out(`server CPU seconds per GiB: large write ${f.serverCpuSecPerGiBLargeWrite}, large read ${f.serverCpuSecPerGiBLargeRead}`);
}
