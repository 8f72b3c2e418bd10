// SegmentLog behaviour: round trips through the index, rolling, chunked reads,
// reads of removed shuffles. Recovery and corruption: segment-recovery.test.ts.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { crc32c } from '@node-rs/crc32';
import test, { type ExecutionContext } from 'ava';

import { Codec } from '../../../schemas/ts/messages.js';
import { PegasusError } from '../../src/errors.js';
import type { RunEntry } from '../helpers/shuffle-layout.js';
import { openShuffleIndex } from '../helpers/shuffle-layout.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../src/engine/segment-format.js';
import type { SegmentLog } from '../../src/engine/segment-log.js';
import { openShuffleLog } from '../helpers/shuffle-layout.js';
import { tierIdOf } from '../../src/engine/tiers.js';
import { listAppDirs, listShuffleDirs, removeAppDir } from '../helpers/shuffle-layout.js';
import { segmentPath, shuffleDir } from '../helpers/shuffle-layout.js';
import type { BufferedBlock, PendingRun, StoredBlock } from '../../src/engine/types.js';
import { bytes, tempDir } from '../helpers/store-fixtures.js';

function block(partition: number, mapId: number, seq: number, size: number, attempt = 2 ** 40 + mapId): BufferedBlock {
  const data = bytes(size, partition * 7919 + mapId * 31 + seq + 1);
  return {
    header: { attempt, mapId, partition, batch: 3, seq, rawLength: size * 2, storedLength: size, crc32c: crc32c(data), codec: Codec.LZ4 },
    data,
  };
}

function run(partition: number, sizes: number[], mapBase = 0): PendingRun {
  return { partition, blocks: sizes.map((s, i) => block(partition, mapBase + i, i, s)) };
}

function runBytes(r: PendingRun): number {
  return RUN_HEADER_BYTES + r.blocks.reduce((n, b) => n + BLOCK_HEADER_BYTES + b.data.length, 0);
}

async function readAll(log: SegmentLog, entry: RunEntry, chunkBytes: number): Promise<StoredBlock[]> {
  const out: StoredBlock[] = [];
  for await (const b of log.readRun(entry, chunkBytes)) out.push({ header: b.header, data: Buffer.from(b.data) });
  return out;
}

function sameBlocks(t: ExecutionContext, got: StoredBlock[], want: BufferedBlock[]): void {
  t.deepEqual(got.map((b) => b.header), want.map((b) => b.header));
  t.deepEqual(got.map((b) => b.data.toString('hex')), want.map((b) => b.data.toString('hex')));
}

const opts = (dataDir: string, segmentBytesMax = 1 << 20) => ({ dataDir, appId: 'app-1', shuffleId: 7, segmentBytesMax });

test('RoundTripThroughIndex: runs of several partitions read back equal, listRuns ordered by partition, segment, offset', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const index = await openShuffleIndex(join(dir, 'index'));
  const log = await openShuffleLog(opts(dir), []);
  const written: PendingRun[] = [];
  for (let flush = 0; flush < 3; flush++) {
    const runs = [run(4, [100, 0, 3000], flush * 10), run(1, [5], flush * 10), run(2, [700, 800], flush * 10)];
    written.push(...runs);
    const rows = await log.appendRuns(runs);
    t.is(rows.runs.length, 3);
    await index.writeFlush('app-1', 7, rows.runs, rows.segments, []);
  }
  const all = await index.listRuns('app-1', 7, 0, 10);
  t.deepEqual(all.map((r) => r.partition), [1, 1, 1, 2, 2, 2, 4, 4, 4]);
  for (let i = 1; i < all.length; i++) {
    const a = all[i - 1]!;
    const b = all[i]!;
    if (a.partition === b.partition) t.true(a.segmentId < b.segmentId || (a.segmentId === b.segmentId && a.offset < b.offset));
  }
  const middle = await index.listRuns('app-1', 7, 2, 4);
  t.deepEqual(middle.map((r) => r.partition), [2, 2, 2]);
  for (const entry of all) {
    const flush = all.filter((r) => r.partition === entry.partition).indexOf(entry);
    const want = written.filter((r) => r.partition === entry.partition)[flush]!;
    t.is(entry.length, runBytes(want));
    t.is(entry.mapMin, Math.min(...want.blocks.map((b) => b.header.mapId)));
    t.is(entry.mapMax, Math.max(...want.blocks.map((b) => b.header.mapId)));
    sameBlocks(t, await readAll(log, entry, 1 << 20), want.blocks);
  }
  const segments = await index.listSegments('app-1', 7);
  t.deepEqual(segments, [{ segmentId: 0, durableBytes: log.diskBytes(), sealed: false, tierId: tierIdOf(dir) }]);
  t.is((await fsp.stat(segmentPath(dir, 'app-1', 7, 0))).size, log.diskBytes());
  await log.close();
  await log.close();
  await index.close();
});

test('SegmentsRollAtSegmentBytesMax: no run is split, a run bigger than the limit gets its own segment', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const max = 4096;
  const log = await openShuffleLog(opts(dir, max), []);
  const small = [run(0, [1000]), run(1, [1000]), run(2, [1000]), run(3, [1000])]; // ~1.1 KB each
  const big = run(9, [3000, 3000]);
  const rows = await log.appendRuns([...small, big, run(5, [10])]);
  const segOf = rows.runs.map((r) => r.segmentId);
  // Three small runs fit 4096 with the segment header; the fourth rolls; the big run goes alone.
  t.deepEqual(segOf, [0, 0, 0, 1, 2, 3]);
  t.deepEqual(rows.segments.map((s) => [s.segmentId, s.sealed]), [[0, true], [1, true], [2, true], [3, false]]);
  t.is(rows.runs[0]!.offset, SEGMENT_HEADER_BYTES);
  for (const s of rows.segments) {
    t.is((await fsp.stat(segmentPath(dir, 'app-1', 7, s.segmentId))).size, s.durableBytes);
    t.true(s.durableBytes <= max || s.segmentId === 2);
  }
  t.is(rows.segments[2]!.durableBytes, SEGMENT_HEADER_BYTES + runBytes(big));
  t.is(log.diskBytes(), rows.segments.reduce((n, s) => n + s.durableBytes, 0));

  // The next append continues in the active segment 3 until it no longer fits.
  const next = await log.appendRuns([run(6, [100]), run(7, [3900])]);
  t.deepEqual(next.runs.map((r) => r.segmentId), [3, 4]);
  t.deepEqual(next.segments.map((s) => [s.segmentId, s.sealed]), [[3, true], [4, false]]);
  for (const [i, entry] of [...rows.runs, ...next.runs].entries()) {
    const want = [...small, big, run(5, [10]), run(6, [100]), run(7, [3900])][i]!;
    sameBlocks(t, await readAll(log, entry, 512), want.blocks);
  }
  await log.close();
});

test('ReadRunInSmallChunks: blocks straddle chunk boundaries, a block larger than a chunk is read whole', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const log = await openShuffleLog(opts(dir), []);
  const r = run(3, [1, 17, 0, 250, 64, 5000, 3, 129, 40_000, 2]);
  const { runs: [, entry] } = await log.appendRuns([run(2, [99]), r, run(4, [7])]);
  for (const chunk of [1, 7, 48, 49, 100, 333, 4096, 1 << 20]) {
    sameBlocks(t, await readAll(log, entry!, chunk), r.blocks);
  }
  // A consumer that stops early closes the file handle (the generator's finally).
  for await (const b of log.readRun(entry!, 64)) {
    t.is(b.header.partition, 3);
    break;
  }
  await log.close();
});

test('ReadOfRemovedSegmentFails with NOT_FOUND', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const log = await openShuffleLog(opts(dir), []);
  const { runs: [entry] } = await log.appendRuns([run(0, [10, 20])]);
  await log.remove();
  await t.throwsAsync(fsp.stat(shuffleDir(dir, 'app-1', 7)));
  t.is(log.diskBytes(), 0);
  const err = await t.throwsAsync(readAll(log, entry!, 1024));
  t.true(err instanceof PegasusError);
  t.is((err as PegasusError).code, 'NOT_FOUND');
  const append = await t.throwsAsync(log.appendRuns([run(0, [1])]));
  t.is((append as PegasusError).code, 'UNKNOWN_SHUFFLE');
});

test('ReadDuringAppend: a read of indexed runs is unaffected by later appends to the same segment', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const log = await openShuffleLog(opts(dir), []);
  const first = run(1, [4000, 4000, 4000]);
  const { runs: [entry] } = await log.appendRuns([first]);
  const reading = readAll(log, entry!, 100);
  const appending = log.appendRuns([run(1, [5000]), run(2, [6000])]);
  const [blocks] = await Promise.all([reading, appending]);
  sameBlocks(t, blocks, first.blocks);
  await log.close();
});

test('ShuffleDirsAreListed for orphan cleanup; app dirs are removable', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  t.deepEqual(await listShuffleDirs(dir), []);
  const a = await openShuffleLog({ ...opts(dir), appId: 'app', shuffleId: 0 }, []);
  const b = await openShuffleLog({ ...opts(dir), appId: 'app1', shuffleId: 4294967295 }, []);
  await fsp.mkdir(join(dir, 'shuffles', 'app', 'not-a-shuffle'));
  const found = (await listShuffleDirs(dir)).sort((x, y) => x.appId.localeCompare(y.appId));
  t.deepEqual(found, [
    { appId: 'app', shuffleId: 0, dir: shuffleDir(dir, 'app', 0) },
    { appId: 'app1', shuffleId: 4294967295, dir: shuffleDir(dir, 'app1', 4294967295) },
  ]);
  await a.close();
  await b.close();
  await removeAppDir(dir, 'app');
  t.deepEqual((await listAppDirs(dir)).map((d) => d.appId), ['app1']);
});

test('PathLikeAppIdIsRefused', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  for (const appId of ['..', '../x', 'a/b', '', '.hidden', 'a..b']) {
    const err = await t.throwsAsync(openShuffleLog({ ...opts(dir), appId }, []));
    t.is((err as PegasusError).code, 'INVALID_ID', appId);
  }
});

test('InvalidBlockIsRefusedBeforeAnyWrite, and the log stays usable', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const log = await openShuffleLog(opts(dir, 4096), []);
  const first = await log.appendRuns([run(0, [100])]);
  const bad = run(1, [10]);
  bad.blocks[0]!.header.storedLength = 11;
  const wrongPartition = run(2, [10]);
  wrongPartition.blocks[0]!.header.partition = 3;
  for (const runs of [[run(0, [4000]), bad], [wrongPartition], [{ partition: 4, blocks: [] }]]) {
    await t.throwsAsync(log.appendRuns(runs));
    t.is((await fsp.stat(segmentPath(dir, 'app-1', 7, 0))).size, first.segments[0]!.durableBytes);
  }
  const next = await log.appendRuns([run(5, [10])]);
  t.deepEqual(next.runs.map((r) => [r.segmentId, r.offset]), [[0, first.segments[0]!.durableBytes]]);
  t.is(log.diskBytes(), next.segments[0]!.durableBytes);
  await log.close();
});

test('ConcurrentAppendIsRefused: the caller must serialize flushes', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const log = await openShuffleLog(opts(dir), []);
  const a = log.appendRuns([run(0, [100])]);
  await t.throwsAsync(log.appendRuns([run(1, [100])]));
  await a;
  await log.close();
});

test('ReadRunsInWindows: runs of many partitions over several flushes and segments read in windows equal the runs read one by one', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const index = await openShuffleIndex(join(dir, 'index'));
  const log = await openShuffleLog(opts(dir, 64 * 1024), []); // small segments: the runs lie in several
  for (let flush = 0; flush < 6; flush++) {
    // Partitions 0..199, some skipped per flush, sizes from a few bytes to more than a window.
    const runs = Array.from({ length: 200 }, (_, p) => p)
      .filter((p) => (p + flush) % 5 !== 0)
      .map((p) => run(p, p === 77 && flush === 2 ? [40_000, 30_000] : [(p * 13 + flush * 7) % 300, flush * 11], flush * 2));
    const rows = await log.appendRuns(runs);
    await index.writeFlush('app-1', 7, rows.runs, rows.segments, []);
  }
  const entries = await index.listRuns('app-1', 7, 20, 180);
  t.true(new Set(entries.map((e) => e.segmentId)).size > 2, 'runs in several segments');
  const want: StoredBlock[] = [];
  for (const e of entries) want.push(...await readAll(log, e, 1 << 20));
  for (const windowBytes of [1, 700, 16 * 1024, 1 << 20]) {
    const got: StoredBlock[] = [];
    let arrays = 0;
    for await (const window of log.readRuns(entries, windowBytes)) {
      arrays++;
      got.push(...window); // the views stay valid: nothing is copied here
    }
    t.deepEqual(got.map((b) => b.header), want.map((b) => b.header), `window ${windowBytes}`);
    t.true(got.every((b, i) => b.data.equals(want[i]!.data)), `window ${windowBytes}`);
    if (windowBytes === 1 << 20) t.true(arrays < entries.length / 10, `${arrays} arrays for ${entries.length} runs`);
  }
  // Reusing windows: the same blocks when each window is used before the next
  // is asked for; the windows share the pool's buffers, and give them back.
  for (const windowBytes of [700, 16 * 1024, 1 << 20]) {
    const got: StoredBlock[] = [];
    const backings = new Set<ArrayBufferLike>();
    let arrays = 0;
    for await (const window of log.readRuns(entries, windowBytes, true)) {
      arrays++;
      for (const b of window) {
        backings.add(b.data.buffer);
        got.push({ header: b.header, data: Buffer.from(b.data) });
      }
    }
    t.deepEqual(got.map((b) => b.header), want.map((b) => b.header), `reused, window ${windowBytes}`);
    t.true(got.every((b, i) => b.data.equals(want[i]!.data)), `reused, window ${windowBytes}`);
    if (windowBytes === 16 * 1024) t.true(backings.size < arrays / 4, `${backings.size} buffers for ${arrays} windows`);
  }
  // A damaged block header is CORRUPT_DATA naming the segment file and the offset.
  const victim = entries[entries.length - 3]!;
  const path = segmentPath(dir, 'app-1', 7, victim.segmentId);
  const fh = await fsp.open(path, 'r+');
  await fh.write(Buffer.from([0xee]), 0, 1, victim.offset + RUN_HEADER_BYTES + 20);
  await fh.close();
  const err = await t.throwsAsync(async () => {
    for await (const window of log.readRuns(entries, 1 << 20)) void window;
  });
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
  t.true(err!.message.includes(path) && err!.message.includes(String(victim.offset + RUN_HEADER_BYTES)), err!.message);
  await log.close();
  await index.close();
});
