// Recovery at open and corruption found by reads, each test named after the
// failure it covers.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { crc32c } from '@node-rs/crc32';
import test, { type ExecutionContext } from 'ava';

import { Codec } from '../../../schemas/ts/messages.js';
import { PegasusError } from '../../src/errors.js';
import type { RunEntry, SegmentEntry } from '../helpers/shuffle-layout.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES } from '../../src/engine/segment-format.js';
import type { SegmentLog } from '../../src/engine/segment-log.js';
import { openShuffleLog } from '../helpers/shuffle-layout.js';
import { segmentPath, shuffleDir } from '../helpers/shuffle-layout.js';
import type { PendingRun, StoredBlock } from '../../src/engine/types.js';
import { tempDir } from '../helpers/store-fixtures.js';

const APP = 'app.recovery_1';
const SHUFFLE = 3;

function run(partition: number, sizes: number[]): PendingRun {
  return {
    partition,
    blocks: sizes.map((size, seq) => {
      const data = Buffer.alloc(size, (partition * 13 + seq) & 0xff);
      return {
        header: { attempt: 1, mapId: seq, partition, batch: 0, seq, rawLength: size, storedLength: size, crc32c: crc32c(data), codec: Codec.NONE },
        data,
      };
    }),
  };
}

async function readAll(log: SegmentLog, entry: RunEntry, chunkBytes = 4096): Promise<StoredBlock[]> {
  const out: StoredBlock[] = [];
  for await (const b of log.readRun(entry, chunkBytes)) out.push({ header: b.header, data: Buffer.from(b.data) });
  return out;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await fsp.open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0]! ^= 0x5a;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

/** A log with two flushed runs; returns what the index would hold. */
async function setUp(dataDir: string, segmentBytesMax = 1 << 20): Promise<{ log: SegmentLog; runs: RunEntry[]; segments: SegmentEntry[] }> {
  const log = await openShuffleLog({ dataDir, appId: APP, shuffleId: SHUFFLE, segmentBytesMax }, []);
  const rows = await log.appendRuns([run(0, [100, 200]), run(1, [300, 400, 500])]);
  return { log, ...rows };
}

function corruptError(t: ExecutionContext, err: unknown, path: string, offset: number): void {
  t.true(err instanceof PegasusError);
  const e = err as PegasusError;
  t.is(e.code, 'CORRUPT_DATA');
  t.true(e.message.includes(path), e.message);
  t.true(e.message.includes(`offset ${offset}`), e.message);
}

test('TornTailIsTruncatedOnOpen: bytes past durableBytes are cut, old runs read, new appends use a new segment', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, runs, segments } = await setUp(dir);
  // A second flush whose data hit the disk but whose index write never happened.
  await log.appendRuns([run(2, [1000])]);
  await log.close();
  const path = segmentPath(dir, APP, SHUFFLE, 0);
  await fsp.appendFile(path, Buffer.alloc(777, 0xee));
  const durable = segments[0]!.durableBytes;
  const torn = (await fsp.stat(path)).size - durable;

  const reopened = await openShuffleLog({ dataDir: dir, appId: APP, shuffleId: SHUFFLE, segmentBytesMax: 1 << 20 }, segments);
  t.is(reopened.recoveredTornBytes, torn);
  t.is((await fsp.stat(path)).size, durable);
  t.is(reopened.diskBytes(), durable);
  t.deepEqual((await readAll(reopened, runs[1]!)).map((b) => b.data.length), [300, 400, 500]);
  const next = await reopened.appendRuns([run(5, [10])]);
  t.deepEqual(next.runs.map((r) => r.segmentId), [1]);
  t.is((await fsp.stat(path)).size, durable, 'sealed segment untouched');
  await reopened.close();
});

test('UnindexedSegmentIsDeletedOnOpen, foreign files are left alone', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, segments } = await setUp(dir, 2048);
  // This run does not fit segment 0: it creates segment 1, which never gets indexed.
  const lost = await log.appendRuns([run(7, [1900])]);
  t.deepEqual(lost.runs.map((r) => r.segmentId), [1]);
  await log.close();
  const foreign = join(shuffleDir(dir, APP, SHUFFLE), 'notes.txt');
  await fsp.writeFile(foreign, 'keep me');

  const reopened = await openShuffleLog({ dataDir: dir, appId: APP, shuffleId: SHUFFLE, segmentBytesMax: 2048 }, segments);
  t.is(reopened.deletedUnindexedSegments, 1);
  await t.throwsAsync(fsp.stat(segmentPath(dir, APP, SHUFFLE, 1)));
  t.is(await fsp.readFile(foreign, 'utf8'), 'keep me');
  const next = await reopened.appendRuns([run(8, [10])]);
  t.deepEqual(next.runs.map((r) => r.segmentId), [1]);
  t.deepEqual((await readAll(reopened, next.runs[0]!)).map((b) => b.data.length), [10]);
  await reopened.close();
});

test('CorruptRunHeaderIsReported with segment and offset', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, runs } = await setUp(dir);
  const path = segmentPath(dir, APP, SHUFFLE, 0);
  const entry = runs[1]!;
  await flipByte(path, entry.offset + 9);
  corruptError(t, await t.throwsAsync(readAll(log, entry)), path, entry.offset);
  t.is((await readAll(log, runs[0]!)).length, 2, 'the other run is fine');
  await log.close();
});

test('CorruptBlockHeaderIsReported with segment and offset', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, runs } = await setUp(dir);
  const path = segmentPath(dir, APP, SHUFFLE, 0);
  const entry = runs[1]!;
  const secondBlock = entry.offset + RUN_HEADER_BYTES + BLOCK_HEADER_BYTES + 300;
  await flipByte(path, secondBlock + 36); // stored length
  const got: number[] = [];
  const err = await t.throwsAsync(async () => {
    for await (const b of log.readRun(entry, 64)) got.push(b.data.length);
  });
  corruptError(t, err, path, secondBlock);
  t.deepEqual(got, [300], 'blocks before the corrupt one were delivered');
  await log.close();
});

test('IndexRunEntryMismatchIsReported: run header disagrees with the index row', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, runs } = await setUp(dir);
  const path = segmentPath(dir, APP, SHUFFLE, 0);
  const entry = runs[0]!;
  corruptError(t, await t.throwsAsync(readAll(log, { ...entry, partition: 9 })), path, entry.offset);
  corruptError(t, await t.throwsAsync(readAll(log, { ...entry, offset: entry.offset + 1 })), path, entry.offset + 1);
  const err = await t.throwsAsync(readAll(log, { ...entry, mapMax: 0 }));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
  await log.close();
});

test('TruncatedSegmentIsReported when the file ends inside a run', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, runs } = await setUp(dir);
  const path = segmentPath(dir, APP, SHUFFLE, 0);
  await fsp.truncate(path, runs[1]!.offset + 100);
  const err = await t.throwsAsync(readAll(log, runs[1]!));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
  t.true((err as PegasusError).message.includes('file ends inside'), (err as Error).message);
  await log.close();
});

test('SegmentShorterThanIndexIsReportedOnOpen', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, segments } = await setUp(dir);
  await log.close();
  await fsp.truncate(segmentPath(dir, APP, SHUFFLE, 0), segments[0]!.durableBytes - 1);
  const err = await t.throwsAsync(openShuffleLog({ dataDir: dir, appId: APP, shuffleId: SHUFFLE, segmentBytesMax: 1 << 20 }, segments));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
});

test('IndexedSegmentMissingIsReportedOnOpen', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, segments } = await setUp(dir);
  await log.close();
  await fsp.rm(segmentPath(dir, APP, SHUFFLE, 0));
  const err = await t.throwsAsync(openShuffleLog({ dataDir: dir, appId: APP, shuffleId: SHUFFLE, segmentBytesMax: 1 << 20 }, segments));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
  t.true((err as Error).message.includes('missing'));
});

test('CorruptSegmentHeaderIsReportedOnOpen', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, segments } = await setUp(dir);
  await log.close();
  const path = segmentPath(dir, APP, SHUFFLE, 0);
  await flipByte(path, 8);
  const err = await t.throwsAsync(openShuffleLog({ dataDir: dir, appId: APP, shuffleId: SHUFFLE, segmentBytesMax: 1 << 20 }, segments));
  corruptError(t, err, path, 0);
});

test('SegmentOfAnotherShuffleIsReportedOnOpen', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { log, segments } = await setUp(dir);
  await log.close();
  await fsp.mkdir(shuffleDir(dir, APP, SHUFFLE + 1), { recursive: true });
  await fsp.rename(segmentPath(dir, APP, SHUFFLE, 0), segmentPath(dir, APP, SHUFFLE + 1, 0));
  const err = await t.throwsAsync(openShuffleLog({ dataDir: dir, appId: APP, shuffleId: SHUFFLE + 1, segmentBytesMax: 1 << 20 }, segments));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
});
