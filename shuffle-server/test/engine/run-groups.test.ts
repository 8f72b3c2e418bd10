// Run-group rows (engine/catalog/run-groups.ts): the codec, listRuns against a
// plain model over a real LevelDB holding run-group rows and the per-run rows of
// indexes written before them, deletes, and the index format version upgrade.
import { promises as fsp } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';
import { ClassicLevel } from 'classic-level';

import { Catalog } from '../../src/engine/catalog/catalog.js';
import {
  RUN_VALUE_V1_BYTES, decodeMetaFormatValue, encodeMetaFormatValue, encodeRunValue, logRange, metaFormatKey, ownerRange, runKey, writeU64LE,
} from '../../src/engine/catalog/catalog-keys.js';
import {
  RUN_GROUP_ENTRY_BYTES, RUN_GROUP_HEADER_BYTES, decodeRunGroupKey, decodeRunGroupValue, encodeRunGroupValue, packRunGroups, runGroupKey,
  type RunGroupKey, type RunGroupRow,
} from '../../src/engine/catalog/run-groups.js';
import { RunGroupCollector, mergeRuns } from '../../src/engine/catalog/run-list.js';
import type { RunEntry, SegmentEntry } from '../../src/engine/catalog/types.js';
import type { LogId } from '../../src/engine/log-id.js';
import { TENANTS } from '../../src/engine/tenants.js';
import { PegasusError } from '../../src/errors.js';
import { RUN_GROUP_ENTRIES_MAX, RUN_GROUP_PARTITIONS, RUN_GROUP_RUN_BYTES_MAX } from '../../src/limits.js';
import { rng } from '../helpers/shuffle-model.js';

const TAGS = TENANTS.shuffle.tags;
const G = RUN_GROUP_PARTITIONS;

type Db = ClassicLevel<Buffer, Buffer>;

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'pegasus-rungroups-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

function openDb(dir: string): Db {
  return new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
}

function log(owner: string, id: number): LogId {
  return { tenant: 'shuffle', owner, id };
}

function run(partition: number, segmentId: number, offset: number, extra = 0): RunEntry {
  return { partition, segmentId, offset, length: 100 + extra, blockCount: 1 + (extra % 7), mapMin: extra % 5, mapMax: (extra % 5) + 3, crc32c: (extra * 2654435761) >>> 0 };
}

function byListOrder(a: RunEntry, b: RunEntry): number {
  return a.partition - b.partition || a.segmentId - b.segmentId || a.offset - b.offset;
}

/** Every entry of a row, decoded with its key. */
function roundTrip(row: RunGroupRow): RunEntry[] {
  const out: RunEntry[] = [];
  decodeRunGroupValue(row.key, encodeRunGroupValue(row), 0, 0xffff_ffff, out);
  return out;
}

function isCorrupt(t: ExecutionContext, fn: () => unknown, message?: string): void {
  const err = t.throws(fn, undefined, message);
  t.is((err as PegasusError | undefined)?.code, 'CORRUPT_DATA', message);
}

// ---- codec ----

test('RoundTrip: runs in any order pack into rows by group and segment and decode back equal', (t) => {
  const runs = [run(5, 0, 900, 1), run(G - 1, 0, 40, 2), run(G, 0, 300, 3), run(0, 0, 500, 4), run(5, 0, 100, 5), run(2 * G, 1, 32, 6), run(G - 1, 1, 64, 7)];
  const rows = packRunGroups(runs);
  const keys = rows.map((r) => r.key).sort((a, b) => a.group - b.group || a.segmentId - b.segmentId);
  t.deepEqual(keys, [
    { group: 0, segmentId: 0, offset: 40 },
    { group: 0, segmentId: 1, offset: 64 },
    { group: 1, segmentId: 0, offset: 300 },
    { group: 2, segmentId: 1, offset: 32 },
  ]);
  const group0 = rows.find((r) => r.key.group === 0 && r.key.segmentId === 0)!;
  // Ordered by partition, then offset, whatever the runs' order.
  t.deepEqual(roundTrip(group0), [run(0, 0, 500, 4), run(5, 0, 100, 5), run(5, 0, 900, 1), run(G - 1, 0, 40, 2)]);
  t.deepEqual(rows.flatMap(roundTrip).sort(byListOrder), [...runs].sort(byListOrder));
  const value = encodeRunGroupValue(group0);
  t.is(value.length, RUN_GROUP_HEADER_BYTES + 4 * RUN_GROUP_ENTRY_BYTES);
  t.is(value[0], 1);
  t.is(value.readUInt32LE(1), 4);
  // Largest safe values survive.
  const big: RunEntry = { partition: 0xffff_fffe, segmentId: 2 ** 53 - 1, offset: 2 ** 53 - 1, length: 2 ** 53 - 1, blockCount: 0xffff_ffff, mapMin: 0xffff_ffff, mapMax: 0xffff_ffff, crc32c: 0xffff_ffff };
  const [bigRow] = packRunGroups([big]);
  t.deepEqual(bigRow!.key, { group: Math.floor(0xffff_fffe / G), segmentId: 2 ** 53 - 1, offset: 2 ** 53 - 1 });
  t.deepEqual(roundTrip(bigRow!), [big]);
  const key = runGroupKey(TAGS.runGroup, log('app', 7), bigRow!.key);
  t.deepEqual(decodeRunGroupKey('shuffle', TAGS.runGroup, key), { log: log('app', 7), ...bigRow!.key });
});

test('DecodeKeepsOnlyTheRangeAsked, found by binary search in the row', (t) => {
  const runs: RunEntry[] = [];
  for (let p = 0; p < G; p += 3) runs.push(run(p, 2, 1000 + p * 10, p), run(p, 2, 1001 + p * 10, p + 1));
  const [row] = packRunGroups(runs);
  const value = encodeRunGroupValue(row!);
  for (const [s, e] of [[0, 0], [0, 1], [3, 4], [4, 6], [G - 10, G - 5], [G - 2, G], [0, G], [G, 2 * G]] as const) {
    const out: RunEntry[] = [];
    decodeRunGroupValue(row!.key, value, s, e, out);
    t.deepEqual(out, runs.filter((r) => r.partition >= s && r.partition < e), `${s}..${e}`);
  }
});

test('SplitAtRunGroupEntriesMax: each row keyed by its own lowest offset', (t) => {
  // Exactly the maximum: one row.
  const full = Array.from({ length: RUN_GROUP_ENTRIES_MAX }, (_, i) => run(i % G, 0, 32 + i * 100, i));
  t.is(packRunGroups(full).length, 1);
  // Two and a bit rows' worth, several runs per partition, partitions in write
  // (offset) order, not partition order.
  const many = Array.from({ length: 2 * RUN_GROUP_ENTRIES_MAX + 1 }, (_, i) => run((i * 7) % G, 3, 32 + i * 100, i));
  const rows = packRunGroups(many);
  t.deepEqual(rows.map((r) => r.entries.length), [RUN_GROUP_ENTRIES_MAX, RUN_GROUP_ENTRIES_MAX, 1]);
  for (const r of rows) {
    t.is(r.key.offset, Math.min(...r.entries.map((e) => e.offset)));
    t.is(r.key.segmentId, 3);
  }
  t.is(new Set(rows.map((r) => r.key.offset)).size, 3);
  t.deepEqual(rows.flatMap(roundTrip).sort(byListOrder), [...many].sort(byListOrder));
  t.throws(() => encodeRunGroupValue({ key: { group: 0, segmentId: 3, offset: 32 }, entries: many }));
  t.throws(() => encodeRunGroupValue({ key: { group: 0, segmentId: 3, offset: 32 }, entries: [] }));
});

test('EncodeRefusesWhatARowCannotHold', (t) => {
  const key: RunGroupKey = { group: 0, segmentId: 0, offset: 32 };
  t.throws(() => encodeRunGroupValue({ key, entries: [run(G, 0, 32)] }), undefined, 'other group');
  t.throws(() => encodeRunGroupValue({ key, entries: [run(1, 1, 32)] }), undefined, 'other segment');
  t.throws(() => encodeRunGroupValue({ key, entries: [run(2, 0, 40), run(1, 0, 50)] }), undefined, 'out of order');
  t.throws(() => encodeRunGroupValue({ key, entries: [{ ...run(1, 0, 40), crc32c: null }] }), undefined, 'no crc');
  t.throws(() => encodeRunGroupValue({ key, entries: [run(1, 0, 16)] }), undefined, 'before the key offset');
  t.throws(() => packRunGroups([run(-1, 0, 16)]));
});

test('EveryMalformedRowIsCorruptData', (t) => {
  const row: RunGroupRow = { key: { group: 1, segmentId: 4, offset: 100 }, entries: [run(G, 4, 100, 1), run(G + 1, 4, 200, 2), run(G + 1, 4, 300, 3)] };
  const good = encodeRunGroupValue(row);
  const decode = (value: Buffer, key: RunGroupKey = row.key, s = 0, e = 0xffff_ffff): RunEntry[] => {
    const out: RunEntry[] = [];
    decodeRunGroupValue(key, value, s, e, out);
    return out;
  };
  t.is(decode(good).length, 3);
  const edited = (edit: (v: Buffer) => void): Buffer => {
    const v = Buffer.from(good);
    edit(v);
    return v;
  };
  const entry = (i: number): number => RUN_GROUP_HEADER_BYTES + i * RUN_GROUP_ENTRY_BYTES;
  isCorrupt(t, () => decode(Buffer.alloc(0)), 'empty');
  isCorrupt(t, () => decode(good.subarray(0, 4)), 'shorter than the header');
  isCorrupt(t, () => decode(edited((v) => { v[0] = 2; })), 'version 2');
  isCorrupt(t, () => decode(edited((v) => { v[0] = 0; })), 'version 0');
  isCorrupt(t, () => decode(good.subarray(0, good.length - 1)), 'a byte short');
  isCorrupt(t, () => decode(Buffer.concat([good, Buffer.alloc(1)])), 'a byte long');
  isCorrupt(t, () => decode(Buffer.concat([good, Buffer.alloc(RUN_GROUP_ENTRY_BYTES)])), 'an entry more than counted');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(2, 1))), 'count too small');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(0xffff_ffff, 1))), 'count huge');
  isCorrupt(t, () => decode(Buffer.from([1, 0, 0, 0, 0])), 'count 0');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(G - 1, entry(0)))), 'partition below the group');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(2 * G, entry(2)))), 'partition above the group');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(G + 2, entry(0)))), 'partitions out of order');
  isCorrupt(t, () => decode(edited((v) => writeU64LE(v, 200, entry(2) + 4))), 'same offset twice in a partition');
  isCorrupt(t, () => decode(edited((v) => writeU64LE(v, 150, entry(2) + 4))), 'offsets out of order in a partition');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(0x20_0000, entry(1) + 8))), 'offset beyond 2^53');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(0x20_0000, entry(1) + 16))), 'length beyond 2^53');
  // Checked for the whole row, also when the read wants other partitions.
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(0x20_0000, entry(2) + 16)), row.key, G, G + 1), 'length beyond 2^53 outside the range read');
  isCorrupt(t, () => decode(edited((v) => v.writeUInt32LE(7, entry(0) + 24))), 'mapMin > mapMax');
  isCorrupt(t, () => decode(good, { ...row.key, offset: 101 }), 'entry before the key offset');
  isCorrupt(t, () => decode(good, { ...row.key, group: 0 }), 'row under another group');
  // Keys: length and u64 range.
  const key = runGroupKey(TAGS.runGroup, log('app', 1), row.key);
  isCorrupt(t, () => decodeRunGroupKey('shuffle', TAGS.runGroup, key.subarray(0, key.length - 1)), 'key a byte short');
  isCorrupt(t, () => decodeRunGroupKey('shuffle', TAGS.runGroup, Buffer.concat([key, Buffer.alloc(1)])), 'key a byte long');
  isCorrupt(t, () => decodeRunGroupKey('shuffle', TAGS.run, key), 'key of another tag');
  const far = Buffer.from(key);
  far.writeUInt32BE(0x20_0000, far.length - 16);
  isCorrupt(t, () => decodeRunGroupKey('shuffle', TAGS.runGroup, far), 'segment id beyond 2^53');
});

test('CollectorOrdersByPartitionThenSegmentThenOffset, also when row order contradicts offset order', (t) => {
  // Rows as an append split over two rows could leave them: the row scanned
  // first holds the later run of partition 5.
  const a: RunGroupRow = { key: { group: 0, segmentId: 0, offset: 10 }, entries: [run(1, 0, 10), run(5, 0, 60)] };
  const b: RunGroupRow = { key: { group: 0, segmentId: 0, offset: 20 }, entries: [run(5, 0, 20), run(7, 0, 30)] };
  const c: RunGroupRow = { key: { group: 1, segmentId: 0, offset: 5 }, entries: [run(G, 0, 5)] };
  const d: RunGroupRow = { key: { group: 1, segmentId: 1, offset: 32 }, entries: [run(G, 1, 32), run(G + 1, 1, 40)] };
  const collect = (s: number, e: number): RunEntry[] => {
    const collector = new RunGroupCollector(s, e);
    for (const row of [a, b, c, d]) collector.add(row.key, encodeRunGroupValue(row));
    return collector.finish();
  };
  const every = [a, b, c, d].flatMap((r) => r.entries).sort(byListOrder);
  t.deepEqual(collect(0, 2 * G), every);
  t.deepEqual(collect(5, G + 1), every.filter((r) => r.partition >= 5 && r.partition < G + 1));
  t.deepEqual(collect(G, G + 1), [run(G, 0, 5), run(G, 1, 32)]);
  // Legacy rows merged in order.
  const legacy = [run(0, 0, 1), run(5, 0, 40), run(G + 1, 0, 1)];
  t.deepEqual(mergeRuns(legacy, every), [...legacy, ...every].sort(byListOrder));
});

// ---- listRuns over a real LevelDB ----

/** A log's runs as the segment log writes them: offsets rising in a segment, segments rolling mid-append. */
class LogWriter {
  segmentId = 0;
  offset = 32;
  constructor(private readonly random: () => number, readonly segmentBytes: number) {}

  /**
   * The runs of one append of the given partitions (one run each, in the given
   * order); about one in ten is larger than RUN_GROUP_RUN_BYTES_MAX, so it gets a
   * per-run row of its own beside the run-group rows of the same append.
   */
  append(partitions: number[]): RunEntry[] {
    const out: RunEntry[] = [];
    for (const p of partitions) {
      const length = this.random() < 0.1 ? RUN_GROUP_RUN_BYTES_MAX + 1 + Math.floor(this.random() * 300) : 20 + Math.floor(this.random() * 300);
      if (this.offset + length > this.segmentBytes) {
        this.segmentId++;
        this.offset = 32;
      }
      out.push({ ...run(p, this.segmentId, this.offset, Math.floor(this.random() * 1e6)), length });
      this.offset += length;
    }
    return out;
  }
}

function shuffled<T>(xs: T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Per-run rows as a release before run groups wrote them, straight into the LevelDB. */
async function writeLegacyRuns(dir: string, l: LogId, runs: RunEntry[], format: number): Promise<void> {
  const db = openDb(dir);
  await db.open();
  const ops = runs.map((r, i) => {
    let value = encodeRunValue(r);
    // Some of version 1 (no CRC), as the oldest indexes hold.
    if (i % 3 === 0) {
      value = Buffer.from(value.subarray(0, RUN_VALUE_V1_BYTES));
      value[0] = 1;
    }
    return { type: 'put' as const, key: runKey(TAGS.run, l, r), value };
  });
  ops.push({ type: 'put', key: metaFormatKey(), value: encodeMetaFormatValue(format) });
  await db.batch(ops);
  await db.close();
}

function model(runs: readonly RunEntry[], s: number, e: number): RunEntry[] {
  return runs.filter((r) => r.partition >= s && r.partition < e).sort(byListOrder);
}

/** deepEqual of long lists without ava's slow diff of every element: only the first difference is shown. */
function sameRuns(t: ExecutionContext, actual: RunEntry[], expected: RunEntry[], message: string): void {
  if (isDeepStrictEqual(actual, expected)) {
    t.pass();
    return;
  }
  let i = 0;
  while (i < actual.length && i < expected.length && isDeepStrictEqual(actual[i], expected[i])) i++;
  t.deepEqual(actual.slice(i, i + 3), expected.slice(i, i + 3), `${message}: first difference at ${i} of ${actual.length} / ${expected.length}`);
}

function asRead(r: RunEntry, legacyV1: boolean): RunEntry {
  return legacyV1 ? { ...r, crc32c: null } : r;
}

test('ListRunsEqualsTheModel: run-group rows and legacy per-run rows, group boundaries, unaligned ranges, split rows', async (t) => {
  const dir = join(await tempDir(t), 'index');
  const random = rng(20261207);
  const int = (n: number): number => Math.floor(random() * n);
  const PARTITIONS = 3 * G + 17;
  const l = log('app', 3);
  const writer = new LogWriter(random, 64 * 1024);

  // Old data first: per-run rows of a version-1 index.
  const legacyWritten = writer.append(Array.from({ length: 600 }, () => int(PARTITIONS)));
  await writeLegacyRuns(dir, l, legacyWritten, 1);
  const all: RunEntry[] = legacyWritten.map((r, i) => asRead(r, i % 3 === 0));

  const catalog = await Catalog.open(dir);
  const edges = [0, 1, G - 1, G, G + 1, 2 * G - 1, 2 * G, 3 * G, PARTITIONS - 1];
  for (let a = 0; a < 24; a++) {
    let partitions: number[];
    const kind = a % 4;
    if (kind === 0) partitions = Array.from({ length: PARTITIONS }, (_, p) => p); // every partition, in order
    else if (kind === 1) partitions = shuffled(Array.from({ length: 50 + int(400) }, () => (random() < 0.3 ? edges[int(edges.length)]! : int(PARTITIONS))), random);
    else if (kind === 2) partitions = edges.flatMap((p) => [p, p]); // two runs per partition in one append
    else partitions = Array.from({ length: RUN_GROUP_ENTRIES_MAX + 500 }, () => int(G)); // one group, split over rows, offsets not in partition order
    const runs = writer.append(partitions);
    await catalog.writeAppend(l, shuffled(runs, random), [{ segmentId: writer.segmentId, durableBytes: writer.offset, sealed: false, tierId: 1 }], []);
    all.push(...runs);
  }
  t.true(writer.segmentId > 3, 'appends spanned several segments');

  const ranges: Array<[number, number]> = [
    [0, PARTITIONS], [0, 0xffff_ffff], [0, 0], [5, 5], [G - 1, G + 1], [G, 2 * G], [G - 1, G], [G, G + 1], [1, 2 * G - 1], [2 * G - 1, 3 * G + 1],
    [PARTITIONS - 1, PARTITIONS], [PARTITIONS, PARTITIONS + 10], [0xffff_fffe, 0xffff_ffff],
  ];
  for (let i = 0; i < 40; i++) {
    const x = int(PARTITIONS + 5);
    ranges.push([x, Math.min(x + int(2 * G), 0xffff_ffff)]);
  }
  const check = async (c: Catalog, what: string): Promise<void> => {
    for (const [s, e] of ranges) sameRuns(t, await c.listRuns(l, s, e), model(all, s, e), `${what} ${s}..${e}`);
  };
  await check(catalog, 'open');
  await catalog.close();
  const reopened = await Catalog.open(dir);
  await check(reopened, 'reopened');
  // Another log of the same owner and one of another owner are not mixed in.
  await reopened.writeAppend(log('app', 4), [run(G, 0, 32, 1)], [], []);
  await reopened.writeAppend(log('app1', 3), [run(G, 0, 32, 2)], [], []);
  await check(reopened, 'with neighbours');
  await reopened.close();
});

// ---- deletes ----

async function keysIn(dir: string, range: { gte: Buffer; lt: Buffer }): Promise<Buffer[]> {
  const db = openDb(dir);
  await db.open();
  const keys = await db.keys(range).all();
  await db.close();
  return keys;
}

test('DeleteLogAndDeleteOwnerRemoveRunGroupAndLegacyRunRows', async (t) => {
  const dir = join(await tempDir(t), 'index');
  const a = log('app', 1);
  const b = log('app', 2);
  const c = log('other', 1);
  await writeLegacyRuns(dir, a, [run(1, 0, 32), run(G, 0, 64)], 1);
  await writeLegacyRuns(dir, b, [run(2, 0, 32)], 1);
  let catalog = await Catalog.open(dir);
  const segment: SegmentEntry = { segmentId: 0, durableBytes: 1000, sealed: false, tierId: 1 };
  for (const l of [a, b, c]) {
    await catalog.putLog(l, Buffer.from([1]));
    await catalog.writeAppend(l, [run(3, 0, 200), run(G + 3, 0, 300), run(5 * G, 0, 400)], [segment], []);
  }
  await catalog.close();
  const rowsOf = async (l: LogId): Promise<number> => {
    let n = 0;
    for (const tag of [TAGS.run, TAGS.runGroup, TAGS.segment, TAGS.log]) n += (await keysIn(dir, logRange(tag, l))).length;
    return n;
  };
  t.is(await rowsOf(a), 2 + 3 + 1 + 1);

  catalog = await Catalog.open(dir);
  await catalog.deleteLog(a);
  await catalog.close();
  t.is(await rowsOf(a), 0);
  t.is(await rowsOf(b), 1 + 3 + 1 + 1, 'the other log of the owner stays');

  catalog = await Catalog.open(dir);
  await catalog.putOwner('shuffle', 'app');
  await catalog.deleteOwner('shuffle', 'app');
  t.is((await catalog.listRuns(c, 0, 0xffff_ffff)).length, 3, 'another owner stays');
  await catalog.close();
  for (const tag of [TAGS.owner, TAGS.log, TAGS.run, TAGS.runGroup, TAGS.segment, ...TAGS.logPrivate]) {
    t.deepEqual(await keysIn(dir, ownerRange(tag, 'app')), [], `tag ${tag}`);
  }
  t.is(await rowsOf(c), 3 + 1 + 1);
});

// ---- index format version ----

async function storedFormat(dir: string): Promise<number> {
  const db = openDb(dir);
  await db.open();
  const v = await db.get(metaFormatKey());
  await db.close();
  return decodeMetaFormatValue(v!);
}

test('IndexFormat: a new index is version 2, a version-1 index is upgraded to 2 and still reads, version 3 is refused', async (t) => {
  const base = await tempDir(t);
  const fresh = join(base, 'fresh');
  await (await Catalog.open(fresh)).close();
  t.is(await storedFormat(fresh), 2);

  const old = join(base, 'old');
  await writeLegacyRuns(old, log('app', 1), [run(7, 0, 32, 3)], 1);
  const logged: unknown[] = [];
  const logger = { info: (...args: unknown[]) => logged.push(args) } as unknown as Parameters<typeof Catalog.open>[1];
  const upgraded = await Catalog.open(old, logger);
  t.is(logged.length, 1, 'the upgrade is logged once');
  t.deepEqual(await upgraded.listRuns(log('app', 1), 0, 10), [run(7, 0, 32, 3)].map((r) => asRead(r, true)));
  await upgraded.close();
  t.is(await storedFormat(old), 2);
  const again = await Catalog.open(old, logger);
  await again.close();
  t.is(logged.length, 1, 'no second upgrade');

  for (const version of [0, 3, 99]) {
    const dir = join(base, `v${version}`);
    const db = openDb(dir);
    await db.open();
    await db.put(metaFormatKey(), encodeMetaFormatValue(version));
    await db.close();
    const err = await t.throwsAsync(Catalog.open(dir));
    t.is((err as PegasusError).code, 'CORRUPT_DATA', `version ${version}`);
    t.is(await storedFormat(dir), version, 'a refused index is left as it was');
  }
});
