// The LevelDB index of every shuffle on this server: applications, shuffles, the
// runs of each partition in segment files, map commits and segment durable sizes.
// Layout of keys and values: INDEX_FORMAT.md and index-keys.ts.
//
// Durability: every write that a client's acknowledgement depends on is written
// with sync:true, and everything that must change together goes in one batch
// (LevelDB applies a batch atomically, also across a crash).
import { promises as fsp } from 'node:fs';

import { ClassicLevel } from 'classic-level';

import { ErrorCode, PegasusError, ioError } from '../errors.js';
import {
  INDEX_FORMAT_VERSION,
  Tag,
  appKey,
  appRange,
  commitKey,
  decodeAppKey,
  decodeAppValue,
  decodeCommitKey,
  decodeCommitValue,
  decodeMetaFormatValue,
  decodeRunKey,
  decodeRunValue,
  decodeSegmentKey,
  decodeSegmentValue,
  decodeShuffleKey,
  decodeShuffleValue,
  encodeAppValue,
  encodeCommitValue,
  encodeMetaFormatValue,
  encodeRunValue,
  encodeSegmentValue,
  encodeShuffleValue,
  metaFormatKey,
  runKey,
  runRange,
  segmentKey,
  shuffleKey,
  shuffleRange,
  tagRange,
  type KeyRange,
} from './index-keys.js';
import type { CommitEntry, RunEntry, SegmentEntry, ShuffleEntry } from './types.js';

type Db = ClassicLevel<Buffer, Buffer>;

type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Tags of the keys that belong to one shuffle, besides the shuffle key itself. */
const SHUFFLE_CHILD_TAGS = [Tag.RUN, Tag.COMMIT, Tag.SEGMENT] as const;

export class ShuffleIndex {
  private constructor(
    private readonly db: Db,
    /** Directory of the LevelDB files. */
    readonly dir: string,
  ) {}

  /** Opens (creating) the index in `dir`; refuses an index of another format version. */
  static async open(dir: string): Promise<ShuffleIndex> {
    let db: Db;
    try {
      await fsp.mkdir(dir, { recursive: true });
      db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
    } catch (err) {
      throw ioError(err, `open index ${dir}`);
    }
    const index = new ShuffleIndex(db, dir);
    try {
      await index.checkFormat();
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return index;
  }

  private async checkFormat(): Promise<void> {
    const key = metaFormatKey();
    const stored = await this.call('read format version', () => this.db.get(key));
    if (stored === undefined) {
      await this.call('write format version', () => this.db.put(key, encodeMetaFormatValue(), { sync: true }));
      return;
    }
    const version = decodeMetaFormatValue(stored);
    if (version !== INDEX_FORMAT_VERSION) {
      throw new PegasusError(ErrorCode.CORRUPT_DATA, `index ${this.dir} has format version ${version}; this server reads ${INDEX_FORMAT_VERSION}`);
    }
  }

  close(): Promise<void> {
    return this.call('close', () => this.db.close());
  }

  /** Registers an application; sync so that its shuffles are never listed without it. */
  putApp(appId: string): Promise<void> {
    const key = appKey(appId);
    return this.call(`put app ${appId}`, () => this.db.put(key, encodeAppValue(), { sync: true }));
  }

  listApps(): Promise<string[]> {
    return this.collect(tagRange(Tag.APP), 'list apps', (k, v) => {
      decodeAppValue(v);
      return decodeAppKey(k);
    });
  }

  /** Removes the application and every key of its shuffles, in one synced batch. */
  async deleteApp(appId: string): Promise<void> {
    const ops: BatchOp[] = [{ type: 'del', key: appKey(appId) }];
    for (const tag of [Tag.SHUFFLE, ...SHUFFLE_CHILD_TAGS]) await this.collectDeletes(appRange(tag, appId), ops);
    await this.call(`delete app ${appId}`, () => this.db.batch(ops, { sync: true }));
  }

  putShuffle(e: ShuffleEntry): Promise<void> {
    const key = shuffleKey(e.appId, e.shuffleId);
    const value = encodeShuffleValue(e);
    return this.call(`put shuffle ${e.appId}/${e.shuffleId}`, () => this.db.put(key, value, { sync: true }));
  }

  /** Every shuffle of every application, ordered by application id then shuffle id. */
  listShuffles(): Promise<ShuffleEntry[]> {
    return this.collect(tagRange(Tag.SHUFFLE), 'list shuffles', (k, v) => ({ ...decodeShuffleKey(k), ...decodeShuffleValue(v) }));
  }

  /** Removes the shuffle with its runs, commits and segments, in one synced batch. */
  async deleteShuffle(appId: string, shuffleId: number): Promise<void> {
    const ops: BatchOp[] = [{ type: 'del', key: shuffleKey(appId, shuffleId) }];
    for (const tag of SHUFFLE_CHILD_TAGS) await this.collectDeletes(shuffleRange(tag, appId, shuffleId), ops);
    await this.call(`delete shuffle ${appId}/${shuffleId}`, () => this.db.batch(ops, { sync: true }));
  }

  /** One atomic batch, written with sync:true, after segment data is fdatasync'ed. */
  writeFlush(appId: string, shuffleId: number, runs: RunEntry[], segments: SegmentEntry[], commits: CommitEntry[]): Promise<void> {
    // Encode everything first: a bad entry fails here, before anything is written.
    const ops: BatchOp[] = [];
    for (const r of runs) ops.push({ type: 'put', key: runKey(appId, shuffleId, r), value: encodeRunValue(r) });
    for (const s of segments) ops.push({ type: 'put', key: segmentKey(appId, shuffleId, s.segmentId), value: encodeSegmentValue(s) });
    for (const c of commits) ops.push({ type: 'put', key: commitKey(appId, shuffleId, c.mapId), value: encodeCommitValue(c) });
    if (ops.length === 0) return Promise.resolve();
    return this.call(`write flush of ${appId}/${shuffleId}`, () => this.db.batch(ops, { sync: true }));
  }

  /** Runs of partitions [partitionStart, partitionEnd), ordered by partition, then segmentId, then offset. */
  listRuns(appId: string, shuffleId: number, partitionStart: number, partitionEnd: number): Promise<RunEntry[]> {
    return this.collect(runRange(appId, shuffleId, partitionStart, partitionEnd), `list runs of ${appId}/${shuffleId}`, (k, v) => {
      const key = decodeRunKey(k);
      return { partition: key.partition, segmentId: key.segmentId, offset: key.offset, ...decodeRunValue(v) };
    });
  }

  /** Commits ordered by map id. */
  listCommits(appId: string, shuffleId: number): Promise<CommitEntry[]> {
    return this.collect(shuffleRange(Tag.COMMIT, appId, shuffleId), `list commits of ${appId}/${shuffleId}`, (k, v) => (
      { mapId: decodeCommitKey(k).mapId, ...decodeCommitValue(v) }
    ));
  }

  /** Segments ordered by segment id. */
  listSegments(appId: string, shuffleId: number): Promise<SegmentEntry[]> {
    return this.collect(shuffleRange(Tag.SEGMENT, appId, shuffleId), `list segments of ${appId}/${shuffleId}`, (k, v) => (
      { segmentId: decodeSegmentKey(k).segmentId, ...decodeSegmentValue(v) }
    ));
  }

  private async collect<T>(range: KeyRange, what: string, decode: (key: Buffer, value: Buffer) => T): Promise<T[]> {
    const out: T[] = [];
    try {
      for await (const [key, value] of this.db.iterator(range)) out.push(decode(key, value));
    } catch (err) {
      throw ioError(err, `index: ${what}`);
    }
    return out;
  }

  private async collectDeletes(range: KeyRange, ops: BatchOp[]): Promise<void> {
    try {
      for await (const key of this.db.keys(range)) ops.push({ type: 'del', key });
    } catch (err) {
      throw ioError(err, 'index: list keys to delete');
    }
  }

  /** Runs one LevelDB call, mapping its failures to STORAGE_IO / DISK_FULL. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw ioError(err, `index: ${what}`);
    }
  }
}
