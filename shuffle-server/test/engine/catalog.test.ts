// ShuffleIndex against a plain in-memory oracle, key layout edge cases, persistence.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { PegasusError } from '../../src/errors.js';
import { openShuffleIndex } from '../helpers/shuffle-layout.js';
import { decodeRunKey, metaFormatKey, prefixEnd, runKey } from '../helpers/shuffle-layout.js';
import type { CommitEntry, RunEntry, SegmentEntry, ShuffleEntry, ShuffleIndex } from '../helpers/shuffle-layout.js';
import { rng } from '../helpers/shuffle-model.js';

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), 'pegasus-'));
}

/** The oracle: one sorted-on-demand map per entry kind, keyed by readable strings. */
class Oracle {
  apps = new Set<string>();
  shuffles = new Map<string, ShuffleEntry>();
  runs = new Map<string, RunEntry & { appId: string; shuffleId: number }>();
  commits = new Map<string, CommitEntry & { appId: string; shuffleId: number }>();
  segments = new Map<string, SegmentEntry & { appId: string; shuffleId: number }>();

  writeFlush(appId: string, shuffleId: number, runs: RunEntry[], segments: SegmentEntry[], commits: CommitEntry[]): void {
    for (const r of runs) this.runs.set(`${appId}|${shuffleId}|${r.partition}|${r.segmentId}|${r.offset}`, { ...r, appId, shuffleId });
    for (const s of segments) this.segments.set(`${appId}|${shuffleId}|${s.segmentId}`, { ...s, appId, shuffleId });
    for (const c of commits) this.commits.set(`${appId}|${shuffleId}|${c.mapId}`, { ...c, appId, shuffleId });
  }

  deleteShuffle(appId: string, shuffleId: number): void {
    this.shuffles.delete(`${appId}|${shuffleId}`);
    for (const m of [this.runs, this.commits, this.segments] as Array<Map<string, { appId: string; shuffleId: number }>>) {
      for (const [k, v] of m) if (v.appId === appId && v.shuffleId === shuffleId) m.delete(k);
    }
  }

  deleteApp(appId: string): void {
    this.apps.delete(appId);
    for (const m of [this.shuffles, this.runs, this.commits, this.segments] as Array<Map<string, { appId: string }>>) {
      for (const [k, v] of m) if (v.appId === appId) m.delete(k);
    }
  }

  listRuns(appId: string, shuffleId: number, start: number, end: number): RunEntry[] {
    return [...this.runs.values()]
      .filter((r) => r.appId === appId && r.shuffleId === shuffleId && r.partition >= start && r.partition < end)
      .sort((a, b) => a.partition - b.partition || a.segmentId - b.segmentId || a.offset - b.offset)
      .map(({ appId: _a, shuffleId: _s, ...r }) => r);
  }

  listCommits(appId: string, shuffleId: number): CommitEntry[] {
    return [...this.commits.values()]
      .filter((c) => c.appId === appId && c.shuffleId === shuffleId)
      .sort((a, b) => a.mapId - b.mapId)
      .map(({ appId: _a, shuffleId: _s, ...c }) => c);
  }

  listSegments(appId: string, shuffleId: number): SegmentEntry[] {
    return [...this.segments.values()]
      .filter((s) => s.appId === appId && s.shuffleId === shuffleId)
      .sort((a, b) => a.segmentId - b.segmentId)
      .map(({ appId: _a, shuffleId: _s, ...s }) => s);
  }

  listShuffles(): ShuffleEntry[] {
    // Byte order of the key: app id bytes, then the 0x00 separator, then shuffle id.
    return [...this.shuffles.values()].sort((a, b) => compareAppIds(a.appId, b.appId) || a.shuffleId - b.shuffleId);
  }

  listApps(): string[] {
    return [...this.apps].sort(compareAppIds);
  }
}

function compareAppIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(`${a}\0`, 'latin1'), Buffer.from(`${b}\0`, 'latin1'));
}

const APPS = ['app', 'app1', 'app-1', 'ap', 'b'];
const SHUFFLES = [0, 1, 255, 256, 0xffff_ffff];

async function checkAll(t: ExecutionContext, index: ShuffleIndex, oracle: Oracle): Promise<void> {
  t.deepEqual(await index.listApps(), oracle.listApps());
  t.deepEqual(await index.listShuffles(), oracle.listShuffles());
  for (const appId of APPS) {
    for (const shuffleId of SHUFFLES) {
      t.deepEqual(await index.listRuns(appId, shuffleId, 0, 0xffff_ffff), oracle.listRuns(appId, shuffleId, 0, 0xffff_ffff));
      t.deepEqual(await index.listCommits(appId, shuffleId), oracle.listCommits(appId, shuffleId));
      t.deepEqual(await index.listSegments(appId, shuffleId), oracle.listSegments(appId, shuffleId));
    }
  }
}

test('RandomizedOpsMatchInMemoryOracle, and survive reopen', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const random = rng(20240607);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (n: number): number => Math.floor(random() * n);
  // Values near the encodings' edges: byte boundaries and the largest safe integers.
  const big = (): number => pick([0, 1, 255, 256, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, int(2 ** 20)]);
  const partition = (): number => pick([0, 1, 2, 3, 255, 256, 999_999, int(10)]);

  // A run's (segment, offset) is a byte position in a segment file: no two runs
  // of a log share one (run-group rows are keyed by their first one).
  const positions = new Set<string>();
  let index = await openShuffleIndex(join(dir, 'index'));
  const oracle = new Oracle();
  for (let op = 0; op < 500; op++) {
    const appId = pick(APPS);
    const shuffleId = pick(SHUFFLES);
    const roll = random();
    if (roll < 0.45) {
      const runs = Array.from({ length: int(5) }, (): RunEntry => {
        const mapMin = int(1000);
        return { partition: partition(), segmentId: pick([0, 1, 2, 2 ** 40]), offset: big(), length: big(), blockCount: int(100_000), mapMin, mapMax: mapMin + int(10), crc32c: pick([0, 1, 0xffff_ffff, int(2 ** 31)]) };
      }).filter((r) => {
        const at = `${appId}|${shuffleId}|${r.segmentId}|${r.offset}`;
        if (positions.has(at)) return false;
        positions.add(at);
        return true;
      });
      const segments = Array.from({ length: int(3) }, (): SegmentEntry => ({ segmentId: pick([0, 1, 2, 2 ** 40]), durableBytes: big(), sealed: random() < 0.5, tierId: pick([0, 1, 0xffff_ffff]) }));
      const commits = Array.from({ length: int(4) }, (): CommitEntry => ({ mapId: pick([0, 1, 256, int(1e7)]), attempt: big(), batchCount: int(1000) }));
      await index.writeFlush(appId, shuffleId, runs, segments, commits);
      oracle.writeFlush(appId, shuffleId, runs, segments, commits);
    } else if (roll < 0.55) {
      const e: ShuffleEntry = { appId, shuffleId, numMaps: int(1e7), numPartitions: int(1e6), createdAtMs: 1_700_000_000_000 + int(1e9) };
      await index.putApp(appId);
      await index.putShuffle(e);
      oracle.apps.add(appId);
      oracle.shuffles.set(`${appId}|${shuffleId}`, e);
    } else if (roll < 0.63) {
      await index.deleteShuffle(appId, shuffleId);
      oracle.deleteShuffle(appId, shuffleId);
    } else if (roll < 0.66) {
      await index.deleteApp(appId);
      oracle.deleteApp(appId);
    } else if (roll < 0.85) {
      const a = partition();
      const b = partition();
      const [start, end] = a <= b ? [a, b] : [b, a];
      t.deepEqual(await index.listRuns(appId, shuffleId, start, end), oracle.listRuns(appId, shuffleId, start, end), `op ${op}`);
    } else if (roll < 0.95) {
      t.deepEqual(await index.listCommits(appId, shuffleId), oracle.listCommits(appId, shuffleId), `op ${op}`);
      t.deepEqual(await index.listSegments(appId, shuffleId), oracle.listSegments(appId, shuffleId), `op ${op}`);
    } else {
      t.deepEqual(await index.listShuffles(), oracle.listShuffles(), `op ${op}`);
      t.deepEqual(await index.listApps(), oracle.listApps(), `op ${op}`);
    }
    if (op === 250) {
      await index.close();
      index = await openShuffleIndex(join(dir, 'index'));
    }
  }
  await checkAll(t, index, oracle);
  await index.close();
  const reopened = await openShuffleIndex(join(dir, 'index'));
  await checkAll(t, reopened, oracle);
  await reopened.close();
});

test('AppIdsThatArePrefixesDoNotCollide', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const index = await openShuffleIndex(join(dir, 'index'));
  const run = (partition: number): RunEntry => ({ partition, segmentId: 0, offset: 32, length: 100, blockCount: 1, mapMin: 0, mapMax: 0, crc32c: 7 });
  for (const appId of ['app', 'app1', 'app.1', 'ap']) {
    await index.putApp(appId);
    await index.putShuffle({ appId, shuffleId: 1, numMaps: 1, numPartitions: 1, createdAtMs: 0 });
    await index.writeFlush(appId, 1, [run(appId.length)], [{ segmentId: 0, durableBytes: 132, sealed: false, tierId: 9 }], [{ mapId: 0, attempt: appId.length, batchCount: 1 }]);
  }
  t.deepEqual((await index.listRuns('app', 1, 0, 100)).map((r) => r.partition), [3]);
  t.deepEqual((await index.listCommits('app', 1)).map((c) => c.attempt), [3]);
  await index.deleteApp('app');
  t.deepEqual(await index.listApps(), ['ap', 'app.1', 'app1']);
  t.deepEqual((await index.listShuffles()).map((s) => s.appId), ['ap', 'app.1', 'app1']);
  t.deepEqual((await index.listRuns('app1', 1, 0, 100)).map((r) => r.partition), [4]);
  t.deepEqual(await index.listRuns('app', 1, 0, 100), []);
  await index.deleteShuffle('app1', 1);
  t.deepEqual(await index.listSegments('app1', 1), []);
  t.deepEqual(await index.listSegments('app.1', 1), [{ segmentId: 0, durableBytes: 132, sealed: false, tierId: 9 }]);
  await index.close();
});

test('RunKeysSortNumerically and decode back', (t) => {
  const entries = [
    { partition: 256, segmentId: 0, offset: 0 },
    { partition: 1, segmentId: 2 ** 40, offset: 5 },
    { partition: 1, segmentId: 255, offset: 2 ** 53 - 1 },
    { partition: 1, segmentId: 255, offset: 256 },
  ];
  const keys = entries.map((e) => runKey('a', 9, e)).sort(Buffer.compare);
  t.deepEqual(keys.map((k) => decodeRunKey(k)), [
    { appId: 'a', shuffleId: 9, partition: 1, segmentId: 255, offset: 256 },
    { appId: 'a', shuffleId: 9, partition: 1, segmentId: 255, offset: 2 ** 53 - 1 },
    { appId: 'a', shuffleId: 9, partition: 1, segmentId: 2 ** 40, offset: 5 },
    { appId: 'a', shuffleId: 9, partition: 256, segmentId: 0, offset: 0 },
  ]);
  t.deepEqual(prefixEnd(Buffer.from([1, 0xff, 0xff])), Buffer.from([2]));
  t.throws(() => runKey('../x', 1, entries[0]!));
});

test('IndexOfAnotherFormatVersionIsRefused', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const { ClassicLevel } = await import('classic-level');
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'index'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.put(metaFormatKey(), Buffer.from([99, 0, 0, 0]));
  await db.close();
  const err = await t.throwsAsync(openShuffleIndex(join(dir, 'index')));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
});

test('CorruptValueIsReported as CORRUPT_DATA', async (t) => {
  const dir = await tempDir();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const index = await openShuffleIndex(join(dir, 'index'));
  await index.close();
  const { ClassicLevel } = await import('classic-level');
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'index'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.put(runKey('a', 1, { partition: 0, segmentId: 0, offset: 32 }), Buffer.from([1, 2, 3]));
  await db.close();
  const reopened = await openShuffleIndex(join(dir, 'index'));
  const err = await t.throwsAsync(reopened.listRuns('a', 1, 0, 1));
  t.is((err as PegasusError).code, 'CORRUPT_DATA');
  await reopened.close();
});
