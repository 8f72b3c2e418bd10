// Backward compatibility: a data dir written by release 0.1
// (test/fixtures/compat-v0.1, see its README) must open and read back
// unchanged with the code of today, and opening and serving it must not change
// a byte of its segment files. The fixture is never regenerated; if a test here
// fails, the change broke data already on disk.
//
// Each server runs on a fresh copy of the fixture. Release 0.1 names the tier
// of every segment by the CRC32C of the data dir's absolute path, so the copy
// lives at a path with the same CRC32C as the one the fixture was written at
// (fixture-files.ts, pathWithCrc32c): to the server it is "the same path".
import test, { type ExecutionContext } from 'ava';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Connection, ShuffleReader, ShuffleWriter, decodeRecords, registerShuffle, type ReadTransport,
} from '../../../shuffle-client/src/index.js';
import {
  FIXTURE_DATA_DIR, copyDataDir, describeFile, describeSegments, digestOf, isSegmentPath, listFiles, pathWithCrc32c, readExpected,
  type Expected, type ExpectedFile, type ExpectedShuffle, type RecordDigest,
} from '../fixtures/compat-v0.1/fixture-files.js';
import { killServer, removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

/** Long enough that no application of the fixture expires while a slow machine runs the tests. */
const APP_EXPIRY_MS = 7 * 24 * 3600_000;
const SERVER_ARGS = ['--app-expiry-ms', String(APP_EXPIRY_MS), '--log-level', 'warn'];

interface Copy {
  /** Temp dir holding the copy; removed at the end. */
  base: string;
  dataDir: string;
}

async function freshCopy(expected: Expected): Promise<Copy> {
  const base = await mkdtemp(join(tmpdir(), 'pegasus-compat-'));
  const dataDir = pathWithCrc32c(base, 'data-', expected.generatedBy.dataDirCrc32c);
  await copyDataDir(FIXTURE_DATA_DIR, dataDir);
  return { base, dataDir };
}

async function api<T>(server: ServerProcess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`http://${server.address}${path}`, {
    method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface Piece {
  partition: number;
  mapId: number;
  attempt: number;
  records: Buffer[];
}

function reader(conn: Connection, s: { appId: string; shuffleId: number }, partitions: [number, number], maps: [number, number], transport: ReadTransport): ShuffleReader {
  return new ShuffleReader({
    connection: conn, appId: s.appId, shuffleId: s.shuffleId,
    partitionStart: partitions[0], partitionEnd: partitions[1], mapStart: maps[0], mapEnd: maps[1],
    options: { transport, creditBytes: 64 * 1024 },
  });
}

/** Blocks of a range with their map and attempt, records copied. */
async function readPieces(conn: Connection, s: ExpectedShuffle, partitions: [number, number], maps: [number, number], transport: ReadTransport = 'websocket'): Promise<Piece[]> {
  const out: Piece[] = [];
  for await (const b of reader(conn, s, partitions, maps, transport).readBlocks()) {
    out.push({ partition: b.partition, mapId: b.mapId, attempt: b.attempt, records: decodeRecords(b.data).map((r) => Buffer.from(r)) });
  }
  return out;
}

/** Digest per partition of [p0, p1) from ShuffleReader.records(). */
async function readDigests(conn: Connection, s: ExpectedShuffle, partitions: [number, number], maps: [number, number], transport: ReadTransport = 'websocket'): Promise<Array<{ partition: number } & RecordDigest>> {
  const byPartition = new Map<number, Buffer[]>();
  for await (const { partition, record } of reader(conn, s, partitions, maps, transport).records()) {
    const list = byPartition.get(partition) ?? [];
    list.push(Buffer.from(record));
    byPartition.set(partition, list);
  }
  const out: Array<{ partition: number } & RecordDigest> = [];
  for (let p = partitions[0]; p < partitions[1]; p++) out.push({ partition: p, ...digestOf(byPartition.get(p) ?? []) });
  return out;
}

const fullPartitions = (s: ExpectedShuffle): [number, number] => [0, s.numPartitions];
const allMaps = (s: ExpectedShuffle): [number, number] => [0, s.numMaps];
const expectedDigests = (s: ExpectedShuffle): Array<{ partition: number } & RecordDigest> =>
  s.partitions.map(({ partition, records, sha256 }) => ({ partition, records, sha256 }));
const nameOf = (s: { appId: string; shuffleId: number }): string => `${s.appId}/${s.shuffleId}`;

/** Every partition of every fixture shuffle reads back as release 0.1 wrote it. */
async function checkAllFixtureReads(t: ExecutionContext, conn: Connection, expected: Expected): Promise<void> {
  for (const s of expected.shuffles) {
    t.deepEqual(await readDigests(conn, s, fullPartitions(s), allMaps(s)), expectedDigests(s), `${nameOf(s)}: all partitions in one read`);
  }
}

async function checkSegmentsUnchanged(t: ExecutionContext, dataDir: string, expected: Expected, when: string): Promise<void> {
  const mine = new Set(expected.segments.map((f) => f.path));
  const now = (await describeSegments(dataDir)).filter((f) => mine.has(f.path));
  t.deepEqual(now, expected.segments, `segment files of the fixture ${when}`);
}

// ---------------------------------------------------------------------------
// One server on one copy for the read-only checks; they run in order, and the
// last one stops it and looks at the files.

interface Shared {
  expected: Expected;
  copy: Copy;
  server: ServerProcess;
  conn: Connection;
}

let shared: Shared | undefined;

test.before(async () => {
  const expected = await readExpected();
  const copy = await freshCopy(expected);
  const server = await startServer({ dataDir: copy.dataDir, args: SERVER_ARGS });
  const conn = await Connection.connect(server.address);
  shared = { expected, copy, server, conn };
});

test.after.always(async () => {
  if (shared === undefined) return;
  await shared.conn.close();
  await stopServer(shared.server);
  await removeDir(shared.copy.base);
});

function ctx(): Shared {
  if (shared === undefined) throw new Error('the shared server did not start');
  return shared;
}

test.serial('the fixture in the source tree is still the one release 0.1 wrote', async (t) => {
  const { expected } = ctx();
  const files = await listFiles(FIXTURE_DATA_DIR);
  const all: ExpectedFile[] = [...expected.segments, ...expected.otherFiles].sort((a, b) => (a.path < b.path ? -1 : 1));
  t.deepEqual(files, all.map((f) => f.path));
  t.deepEqual(await Promise.all(files.map((f) => describeFile(FIXTURE_DATA_DIR, f))), all);
  t.true(files.some((f) => f.startsWith('index/')), 'the LevelDB index is part of the fixture');
  t.false(files.some((f) => /(^|\/)(LOG|LOG\.old|LOCK)$/.test(f)), 'LevelDB text logs and lock are left out');
});

test.serial('lists exactly the apps and shuffles of release 0.1 with their map, partition and committed-map counts', async (t) => {
  const { expected, server } = ctx();
  const apps = (await api<{ apps: Array<{ appId: string; shuffles: number; diskBytes: number }> }>(server, 'GET', '/api/v1/apps')).apps;
  t.deepEqual(apps.map((a) => a.appId).sort(), expected.apps.map((a) => a.appId).sort());
  for (const a of expected.apps) {
    t.is(apps.find((x) => x.appId === a.appId)?.shuffles, a.shuffleIds.length, `${a.appId}: shuffle count`);
    const one = await api<{ shuffleIds: number[] }>(server, 'GET', `/api/v1/apps/${a.appId}`);
    t.deepEqual([...one.shuffleIds].sort((x, y) => x - y), [...a.shuffleIds].sort((x, y) => x - y), `${a.appId}: shuffle ids`);
  }
  const listed = (await api<{ shuffles: Array<{ appId: string; shuffleId: number; numMaps: number; numPartitions: number; committedMaps: number; diskBytes: number }> }>(
    server, 'GET', '/api/v1/shuffles')).shuffles;
  t.deepEqual(listed.map(nameOf).sort(), expected.shuffles.map(nameOf).sort());
  for (const s of expected.shuffles) {
    const got = listed.find((x) => x.appId === s.appId && x.shuffleId === s.shuffleId)!;
    const segBytes = expected.segments.filter((f) => f.path.startsWith(`shuffles/${s.appId}/${s.shuffleId}/`)).reduce((n, f) => n + f.bytes, 0);
    t.like(got, { numMaps: s.numMaps, numPartitions: s.numPartitions, committedMaps: s.committed.length, diskBytes: segBytes }, nameOf(s));
  }
});

test.serial('reads every partition of every shuffle back with exactly the records release 0.1 wrote, only from the winning attempts', async (t) => {
  const { expected, conn } = ctx();
  await checkAllFixtureReads(t, conn, expected);
  for (const s of expected.shuffles) {
    // Each partition on its own.
    for (let p = 0; p < s.numPartitions; p++) {
      t.deepEqual(await readDigests(conn, s, [p, p + 1], allMaps(s)), [expectedDigests(s)[p]!], `${nameOf(s)} partition ${p} alone`);
    }
    // Every block comes from its map's committed attempt; per map, the records as written.
    const winner = new Map(s.committed.map((c) => [c.mapId, c.attempt]));
    const pieces = await readPieces(conn, s, fullPartitions(s), allMaps(s));
    for (const piece of pieces) t.is(piece.attempt, winner.get(piece.mapId) ?? -1, `${nameOf(s)}: block of map ${piece.mapId} attempt ${piece.attempt}`);
    for (const ep of s.partitions) {
      const maps: Record<string, RecordDigest> = {};
      for (let m = 0; m < s.numMaps; m++) {
        const recs = pieces.filter((x) => x.partition === ep.partition && x.mapId === m).flatMap((x) => x.records);
        if (recs.length > 0) maps[String(m)] = digestOf(recs);
      }
      t.deepEqual(maps, ep.maps, `${nameOf(s)} partition ${ep.partition}: per map`);
    }
  }
});

test.serial('map-range reads of a sub-range give exactly the records of those maps, in order', async (t) => {
  const { expected, conn } = ctx();
  for (const s of expected.shuffles) {
    for (const r of s.rangeReads) {
      t.deepEqual(await readDigests(conn, s, r.partitions, r.maps), r.perPartition, `${nameOf(s)} partitions ${r.partitions} maps ${r.maps}`);
    }
    for (let m = 0; m < s.numMaps; m++) {
      const got = await readDigests(conn, s, fullPartitions(s), [m, m + 1]);
      const want = s.partitions.map((p) => ({ partition: p.partition, ...(p.maps[String(m)] ?? digestOf([])) }));
      t.deepEqual(got, want, `${nameOf(s)} map ${m} alone`);
    }
  }
});

test.serial('verify re-reads every stored block of release 0.1 and reports no error', async (t) => {
  const { expected, server } = ctx();
  const v = await api<{ shuffles: number; runs: number; blocks: number; bytes: number; errors: unknown[] }>(server, 'POST', '/api/v1/verify', {});
  t.deepEqual(v.errors, []);
  t.is(v.shuffles, expected.shuffles.length);
  t.true(v.runs > 0 && v.blocks >= v.runs, JSON.stringify(v));
});

test.serial('reads a shuffle over UCX with the same records as over WebSocket (when UCX is loaded)', async (t) => {
  const { expected, server, conn } = ctx();
  const status = await api<{ native: { loaded: boolean; reason: string | null }; ucx: { enabled: boolean; reason: string | null } }>(server, 'GET', '/api/v1/status');
  if (!status.native.loaded || !status.ucx.enabled || conn.ucxPort === 0) {
    t.log(`UCX not available, not read over UCX: native ${status.native.reason ?? 'loaded'}, ucx ${status.ucx.reason ?? 'enabled'}`);
    t.pass();
    return;
  }
  for (const s of expected.shuffles.filter((x) => x.appId === 'compat-app')) {
    t.deepEqual(await readDigests(conn, s, fullPartitions(s), allMaps(s), 'ucx'), expectedDigests(s), `${nameOf(s)} over UCX`);
  }
  const s0 = expected.shuffles[0]!;
  const r = s0.rangeReads[0]!;
  t.deepEqual(await readDigests(conn, s0, r.partitions, r.maps, 'ucx'), r.perPartition, `${nameOf(s0)} map range over UCX`);
  const after = await api<{ ucx: { registeredBytes: number } }>(server, 'GET', '/api/v1/status');
  t.true(after.ucx.registeredBytes > 0, `the reads went over UCX (segments registered): ${JSON.stringify(after.ucx)}`);
});

test.serial('leaves every segment file of release 0.1 byte for byte unchanged after opening, serving and stopping', async (t) => {
  const { expected, server, copy } = ctx();
  const segs = (await listFiles(copy.dataDir)).filter(isSegmentPath);
  t.deepEqual(segs, expected.segments.map((f) => f.path), 'the same set of segment files while running');
  await checkSegmentsUnchanged(t, copy.dataDir, expected, 'while the server runs');
  t.is(await stopServer(server), 0, server.stderr());
  t.deepEqual((await listFiles(copy.dataDir)).filter(isSegmentPath), expected.segments.map((f) => f.path), 'the same set of segment files after stop');
  await checkSegmentsUnchanged(t, copy.dataDir, expected, 'after a graceful stop');
});

// ---------------------------------------------------------------------------

test.serial('a shuffle written beside the release 0.1 data survives SIGKILL, and old and new data both read back', async (t) => {
  const expected = await readExpected();
  const copy = await freshCopy(expected);
  t.teardown(() => removeDir(copy.base));
  let server = await startServer({ dataDir: copy.dataDir, args: SERVER_ARGS });
  t.teardown(() => killServer(server));

  // Two new shuffles: one in an app of the fixture, one in a new app.
  const fresh = [
    { appId: 'compat-app', shuffleId: 2, numMaps: 2, numPartitions: 6 },
    { appId: 'compat-new', shuffleId: 0, numMaps: 1, numPartitions: 4 },
  ];
  const written = new Map<string, Buffer[]>(); // "app/shuffle/partition/map" -> records
  const conn = await Connection.connect(server.address);
  try {
    for (const s of fresh) {
      await registerShuffle(conn, s);
      for (let m = 0; m < s.numMaps; m++) {
        const w = new ShuffleWriter({ connection: conn, appId: s.appId, shuffleId: s.shuffleId, mapId: m, attempt: 0, numPartitions: s.numPartitions, options: { blockBytes: 4096, batchBytes: 8192 } });
        for (let i = 0; i < 300; i++) {
          const p = (i * 7 + m) % s.numPartitions;
          const rec = Buffer.from(`${nameOf(s)} m${m} #${i} `.padEnd(20 + (i % 50), '.'));
          const wait = w.write(p, rec);
          if (wait !== undefined) await wait;
          const k = `${nameOf(s)}/${p}/${m}`;
          written.set(k, [...(written.get(k) ?? []), rec]);
        }
        const res = await w.close();
        t.true(res.won, `${nameOf(s)} map ${m} commit`);
      }
    }
  } finally {
    await conn.close();
  }

  await killServer(server);
  server = await startServer({ dataDir: copy.dataDir, args: SERVER_ARGS });

  const listed = (await api<{ shuffles: Array<{ appId: string; shuffleId: number; committedMaps: number }> }>(server, 'GET', '/api/v1/shuffles')).shuffles;
  t.deepEqual(listed.map(nameOf).sort(), [...expected.shuffles, ...fresh].map(nameOf).sort());
  for (const s of fresh) t.is(listed.find((x) => nameOf(x) === nameOf(s))?.committedMaps, s.numMaps, `${nameOf(s)} committed maps after SIGKILL`);

  const conn2 = await Connection.connect(server.address);
  try {
    await checkAllFixtureReads(t, conn2, expected);
    for (const s of fresh) {
      const es = { ...s, codec: 'lz4' as const, committed: [], unservedAttempts: [], partitions: [], rangeReads: [] };
      const pieces = await readPieces(conn2, es, [0, s.numPartitions], [0, s.numMaps]);
      for (let p = 0; p < s.numPartitions; p++) {
        for (let m = 0; m < s.numMaps; m++) {
          const got = pieces.filter((x) => x.partition === p && x.mapId === m).flatMap((x) => x.records);
          t.deepEqual(digestOf(got), digestOf(written.get(`${nameOf(s)}/${p}/${m}`) ?? []), `${nameOf(s)} partition ${p} map ${m} after SIGKILL`);
        }
      }
    }
  } finally {
    await conn2.close();
  }
  const v = await api<{ errors: unknown[]; shuffles: number }>(server, 'POST', '/api/v1/verify', {});
  t.deepEqual(v.errors, []);
  t.is(v.shuffles, expected.shuffles.length + fresh.length);
  await checkSegmentsUnchanged(t, copy.dataDir, expected, 'after new writes, SIGKILL and restart');
  t.is(await stopServer(server), 0, server.stderr());
});
