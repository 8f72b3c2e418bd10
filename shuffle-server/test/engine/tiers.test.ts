// Segment logs over ordered storage tiers, the pmem tier's libpmem2 writer, run
// checksums and version-1 index rows. Real files in temporary directories.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { crc32c } from '@node-rs/crc32';
import test from 'ava';

import { Codec } from '../../../schemas/ts/messages.js';
import { CAPACITY_UNLIMITED } from '../../src/config.js';
import { ErrorCode, PegasusError } from '../../src/errors.js';
import { decodeRunValue, decodeSegmentValue, encodeRunValue, encodeSegmentValue } from '../../src/engine/catalog/catalog-keys.js';
import { openShuffleIndex } from '../helpers/shuffle-layout.js';
import type { RunEntry, SegmentEntry } from '../helpers/shuffle-layout.js';
import { PmemSegmentFile } from '../../src/engine/segment-file.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../src/engine/segment-format.js';
import type { SegmentLog } from '../../src/engine/segment-log.js';
import { openShuffleLog } from '../helpers/shuffle-layout.js';
import { segmentPath } from '../helpers/shuffle-layout.js';
import { TierSet, tierIdOf } from '../../src/engine/tiers.js';
import type { BufferedBlock, PendingRun, StoredBlock } from '../../src/engine/types.js';
import { bytes, tempDir } from '../helpers/store-fixtures.js';

function block(partition: number, mapId: number, seq: number, size: number): BufferedBlock {
  const data = bytes(size, partition * 7919 + mapId * 31 + seq + 1);
  return { header: { attempt: 1, mapId, partition, batch: 0, seq, rawLength: size, storedLength: size, crc32c: crc32c(data), codec: Codec.NONE }, data };
}

function run(partition: number, sizes: number[], seed = 0): PendingRun {
  return { partition, blocks: sizes.map((s, i) => block(partition, seed + i, i, s)) };
}

function runBytes(r: PendingRun): number {
  return RUN_HEADER_BYTES + r.blocks.reduce((n, b) => n + BLOCK_HEADER_BYTES + b.data.length, 0);
}

async function readAll(log: SegmentLog, entry: RunEntry): Promise<StoredBlock[]> {
  const out: StoredBlock[] = [];
  for await (const b of log.readRun(entry, 1 << 20)) out.push({ header: b.header, data: Buffer.from(b.data) });
  return out;
}

async function sameAsWritten(log: SegmentLog, entries: RunEntry[], written: PendingRun[]): Promise<boolean> {
  for (let i = 0; i < entries.length; i++) {
    const got = await readAll(log, entries[i]!);
    const want = written[i]!.blocks;
    if (got.length !== want.length) return false;
    for (let j = 0; j < got.length; j++) {
      if (!got[j]!.data.equals(want[j]!.data) || JSON.stringify(got[j]!.header) !== JSON.stringify(want[j]!.header)) return false;
    }
  }
  return true;
}

async function fileCrc(path: string, e: RunEntry): Promise<number> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(e.length);
    await fh.read(buf, 0, e.length, e.offset);
    return crc32c(buf);
  } finally {
    await fh.close();
  }
}

const APP = 'app-tiers';
const opts = (dataDir: string, tiers: TierSet, segmentBytesMax = 1 << 20) => ({ dataDir, appId: APP, shuffleId: 3, segmentBytesMax, tiers });

test('PmemTierSegmentsReadBackByteForByte: written through libpmem2, preallocated while active, cut to durableBytes at seal', async (t) => {
  const dir = await tempDir('pegasus-tiers-');
  const tiers = TierSet.single(dir, 'pmem');
  t.true(tiers.tiers[0]!.writesThroughPmem);
  const max = 256 * 1024;
  const log = await openShuffleLog(opts(dir, tiers, max), []);
  const written = [run(0, [1000, 0, 70_000]), run(1, [5]), run(2, [100_000])];
  const first = await log.appendRuns(written);
  t.deepEqual(first.segments.map((s) => [s.segmentId, s.sealed, s.tierId]), [[0, false, tierIdOf(dir)]]);
  const path = segmentPath(dir, APP, 3, 0);
  t.is((await fsp.stat(path)).size, max, 'the active pmem segment is allocated at segmentBytesMax');
  t.true(await sameAsWritten(log, first.runs, written));
  const more = [run(0, [120_000], 10)];
  const second = await log.appendRuns(more);
  t.deepEqual(second.segments.map((s) => [s.segmentId, s.sealed]), [[0, true], [1, false]]);
  t.is((await fsp.stat(path)).size, first.segments[0]!.durableBytes, 'a sealed pmem segment keeps no preallocated tail');
  t.true(await sameAsWritten(log, second.runs, more));
  t.is(tiers.tiers[0]!.usedBytes, log.diskBytes());
  t.is(tiers.tiers[0]!.chargedBytes, first.segments[0]!.durableBytes + max, 'sealed: durable bytes; active: a whole segment');
  await log.close();
  t.is((await fsp.stat(segmentPath(dir, APP, 3, 1))).size, second.segments[1]!.durableBytes, 'close cuts the active segment too');
});

test('PmemSegmentFileReportsPageGranularityOnThisMachine', async (t) => {
  const dir = await tempDir('pegasus-tiers-');
  const f = await PmemSegmentFile.create(join(dir, 'x.seg'), 1 << 20);
  t.is(f.writer, 'PAGE');
  await f.close(0);
});

test('PmemTornTailCountsWrittenRunsNotPreallocatedZeros', async (t) => {
  const dir = await tempDir('pegasus-tiers-');
  const tiers = TierSet.single(dir, 'pmem');
  const log = await openShuffleLog(opts(dir, tiers), []);
  const indexed = await log.appendRuns([run(0, [3000])]);
  // Written and persisted, but the crash came before its index write.
  const torn = [run(1, [2000, 17]), run(2, [999])];
  await log.appendRuns(torn);
  // No close: the process died; the file is still allocated at segmentBytesMax.
  t.is((await fsp.stat(segmentPath(dir, APP, 3, 0))).size, 1 << 20);
  const reopened = await openShuffleLog(opts(dir, TierSet.single(dir, 'pmem')), indexed.segments);
  t.is(reopened.recoveredTornBytes, torn.reduce((n, r) => n + runBytes(r), 0));
  t.is((await fsp.stat(segmentPath(dir, APP, 3, 0))).size, indexed.segments[0]!.durableBytes);
  t.true(await sameAsWritten(reopened, indexed.runs, [run(0, [3000])]));
});

test('FirstTierFullSendsNewSegmentsToTheNextTier; reads and reopen find each segment on its tier', async (t) => {
  const root = await tempDir('pegasus-tiers-');
  const a = join(root, 'pmem');
  const b = join(root, 'nvme');
  await fsp.mkdir(a);
  await fsp.mkdir(b);
  const max = 64 * 1024;
  const cfg = { tiers: [{ kind: 'pmem' as const, path: a, capacityBytes: 2 * max }, { kind: 'nvme' as const, path: b, capacityBytes: CAPACITY_UNLIMITED }], dataDir: root, diskReserveBytes: 0 };
  const tiers = TierSet.fromConfig(cfg);
  const log = await openShuffleLog(opts(root, tiers, max), []);
  const written: PendingRun[] = [];
  const entries: RunEntry[] = [];
  const segments = new Map<number, SegmentEntry>();
  for (let i = 0; i < 6; i++) {
    const r = [run(i % 4, [40_000], i * 10)];
    const res = await log.appendRuns(r);
    written.push(...r);
    entries.push(...res.runs);
    for (const s of res.segments) segments.set(s.segmentId, s);
  }
  const onTier = (p: string) => [...segments.values()].filter((s) => s.tierId === tierIdOf(p)).map((s) => s.segmentId);
  t.deepEqual(onTier(a), [0, 1], 'the pmem tier holds two whole segments');
  t.deepEqual(onTier(b), [2, 3, 4, 5]);
  for (const id of onTier(b)) await fsp.access(segmentPath(b, APP, 3, id));
  t.true(await sameAsWritten(log, entries, written));
  await log.close();
  const reopened = await openShuffleLog(opts(root, TierSet.fromConfig(cfg), max), [...segments.values()]);
  t.is(reopened.recoveredTornBytes, 0);
  t.true(await sameAsWritten(reopened, entries, written));
  // Reordering tiers between restarts changes nothing for written segments.
  const swapped = TierSet.fromConfig({ ...cfg, tiers: [...cfg.tiers].reverse() });
  const again = await openShuffleLog(opts(root, swapped, max), [...segments.values()]);
  t.true(await sameAsWritten(again, entries, written));
  await again.remove();
  t.is(swapped.usedBytes(), 0);
  await t.throwsAsync(fsp.access(segmentPath(b, APP, 3, 2)));
});

test('EveryTierFullIsDiskFull; the failed append charges nothing and removal frees room', async (t) => {
  const root = await tempDir('pegasus-tiers-');
  const max = 64 * 1024;
  const tiers = TierSet.fromConfig({ tiers: [{ kind: 'ssd', path: root, capacityBytes: max }], dataDir: root, diskReserveBytes: 0 });
  const log = await openShuffleLog(opts(root, tiers, max), []);
  await log.appendRuns([run(0, [60_000])]);
  const charged = tiers.tiers[0]!.chargedBytes;
  const err = await t.throwsAsync(log.appendRuns([run(1, [10_000])]));
  t.true(err instanceof PegasusError && err.wireCode === ErrorCode.DISK_FULL, String(err));
  t.regex(err!.message, /no storage tier has room/);
  t.is(tiers.tiers[0]!.chargedBytes, charged);
  await log.remove();
  t.is(tiers.tiers[0]!.chargedBytes, 0);
  t.true(tiers.hasRoom(max));
});

test('RunCrcInTheIndexMatchesTheBytesOnDisk, on the file and the pmem writer', async (t) => {
  for (const kind of ['disk', 'pmem'] as const) {
    const dir = await tempDir('pegasus-tiers-');
    const index = await openShuffleIndex(join(dir, 'index'));
    const log = await openShuffleLog(opts(dir, TierSet.single(dir, kind), 128 * 1024), []);
    const res = await log.appendRuns([run(0, [10, 20_000]), run(5, [0]), run(7, [100_000, 3])]);
    await index.writeFlush(APP, 3, res.runs, res.segments, []);
    const rows = await index.listRuns(APP, 3, 0, 10);
    t.is(rows.length, 3);
    for (const r of rows) {
      t.not(r.crc32c, null);
      t.is(r.crc32c, await fileCrc(log.segmentPath(r.segmentId), r), `${kind} run of partition ${r.partition}`);
    }
    await log.close();
    await index.close();
  }
});

test('Version1IndexRowsStillDecode: runs without a CRC, segments in the data directory', async (t) => {
  const v1Run = Buffer.alloc(21);
  v1Run[0] = 1;
  v1Run.writeUInt32LE(100, 1);
  v1Run.writeUInt32LE(2, 9);
  v1Run.writeUInt32LE(4, 13);
  v1Run.writeUInt32LE(9, 17);
  t.deepEqual(decodeRunValue(v1Run), { length: 100, blockCount: 2, mapMin: 4, mapMax: 9, crc32c: null });
  const v1Segment = Buffer.from('01' + '8400000000000000' + '01', 'hex');
  t.deepEqual(decodeSegmentValue(v1Segment), { durableBytes: 132, sealed: true, tierId: null });
  // Version 2 round trips; a version-1 length with a version-2 byte is corrupt.
  const run2: RunEntry = { partition: 0, segmentId: 0, offset: 32, length: 100, blockCount: 2, mapMin: 4, mapMax: 9, crc32c: 0xdeadbeef };
  t.is(decodeRunValue(encodeRunValue(run2)).crc32c, 0xdeadbeef);
  t.is(decodeSegmentValue(encodeSegmentValue({ segmentId: 0, durableBytes: 132, sealed: false, tierId: 0xffffffff })).tierId, 0xffffffff);
  t.throws(() => decodeRunValue(Buffer.concat([Buffer.from([2]), v1Run.subarray(1)])), { message: /CORRUPT_DATA|expected/ });
  t.throws(() => decodeSegmentValue(Buffer.from([3, ...Buffer.alloc(13)])), { message: /expected/ });

  // A segment indexed by a version-1 row (tierId null) is found in the data directory.
  const dir = await tempDir('pegasus-tiers-');
  const log = await openShuffleLog({ dataDir: dir, appId: APP, shuffleId: 3, segmentBytesMax: 1 << 20 }, []);
  const written = [run(0, [500])];
  const res = await log.appendRuns(written);
  await log.close();
  const legacy = res.segments.map((s) => ({ ...s, tierId: null }));
  const tiers = TierSet.fromConfig({ tiers: [{ kind: 'pmem', path: join(dir, 'elsewhere'), capacityBytes: 1 << 30 }, { kind: 'nvme', path: dir, capacityBytes: 1 << 30 }], dataDir: dir, diskReserveBytes: 0 });
  const reopened = await openShuffleLog(opts(dir, tiers), legacy);
  t.true(await sameAsWritten(reopened, res.runs.map((r) => ({ ...r, crc32c: null })), written));
});

test('SegmentOnARemovedTierIsCorruptDataNamingTheTier', async (t) => {
  const root = await tempDir('pegasus-tiers-');
  const a = join(root, 'a');
  const b = join(root, 'b');
  await fsp.mkdir(a);
  await fsp.mkdir(b);
  const log = await openShuffleLog(opts(root, TierSet.single(a, 'pmem')), []);
  const res = await log.appendRuns([run(0, [10])]);
  await log.close();
  const err = await t.throwsAsync(openShuffleLog(opts(root, TierSet.single(b, 'nvme')), res.segments));
  t.true(err instanceof PegasusError && err.wireCode === ErrorCode.CORRUPT_DATA);
  t.regex(err!.message, new RegExp(`tier 0x${tierIdOf(a).toString(16).padStart(8, '0')}.*not configured.*nvme:${b}`));
  // The files of the removed tier are left alone.
  await fsp.access(segmentPath(a, APP, 3, 0));
});

test('SegmentFoundOnAnotherTierThanIndexedIsReportedNotDeleted', async (t) => {
  const root = await tempDir('pegasus-tiers-');
  const a = join(root, 'a');
  const b = join(root, 'b');
  await fsp.mkdir(a);
  await fsp.mkdir(b);
  const cfg = { tiers: [{ kind: 'nvme' as const, path: a, capacityBytes: 1 << 30 }, { kind: 'hdd' as const, path: b, capacityBytes: 1 << 30 }], dataDir: root, diskReserveBytes: 0 };
  const log = await openShuffleLog(opts(root, TierSet.fromConfig(cfg)), []);
  const res = await log.appendRuns([run(0, [10])]);
  await log.close();
  await fsp.mkdir(join(b, 'shuffles', APP, '3'), { recursive: true });
  await fsp.rename(segmentPath(a, APP, 3, 0), segmentPath(b, APP, 3, 0));
  const err = await t.throwsAsync(openShuffleLog(opts(root, TierSet.fromConfig(cfg)), res.segments));
  t.regex(err!.message, /is on tier hdd:.* but indexed on tier nvme:/);
  await fsp.access(segmentPath(b, APP, 3, 0));
});

test('MissingTierDirectoryIsStorageIoNamingIt; the data directory tier is created', async (t) => {
  const root = await tempDir('pegasus-tiers-');
  const gone = join(root, 'not-mounted');
  const tiers = TierSet.fromConfig({ tiers: [{ kind: 'pmem', path: gone, capacityBytes: 1 << 30 }, { kind: 'disk', path: join(root, 'data'), capacityBytes: 1 << 30 }], dataDir: join(root, 'data'), diskReserveBytes: 0 });
  const err = await t.throwsAsync(tiers.checkDirs());
  t.true(err instanceof PegasusError && err.wireCode === ErrorCode.STORAGE_IO);
  t.regex(err!.message, new RegExp(`pmem:${gone}.*missing`));
  await fsp.access(join(root, 'data'));
});

test('SameTierIdTwiceIsRefused', (t) => {
  t.throws(() => TierSet.fromConfig({ tiers: [{ kind: 'pmem', path: '/x/y', capacityBytes: 1 }, { kind: 'ssd', path: '/x/./y', capacityBytes: 1 }], dataDir: '/x', diskReserveBytes: 0 }), { message: /same id/ });
  t.is(SEGMENT_HEADER_BYTES, 32);
});
