// The catalog: one LevelDB (classic-level) holding, for every tenant, its
// owners, its logs, the runs of each log in segment files (packed per append and
// group of partitions: run-groups.ts), the durable length of every segment, and
// rows a tenant keeps per log (its private tags). Layout of keys and values:
// INDEX_FORMAT.md, catalog-keys.ts and run-groups.ts.
//
// Durability: every write that a client's acknowledgement depends on is written
// with sync:true, and everything that must change together goes in one batch
// (LevelDB applies a batch atomically, also across a crash).
import { promises as fsp } from 'node:fs';

import { ClassicLevel } from 'classic-level';

import { ErrorCode, PegasusError, ioError } from '../../errors.js';
import { CATALOG_ROWS_PER_STEP, RUN_GROUP_RUN_BYTES_MAX } from '../../limits.js';
import type { Logger } from '../../logger.js';
import type { LogId } from '../log-id.js';
import { tenantLayout, type TenantName } from '../tenants.js';
import {
  INDEX_FORMAT_VERSION,
  INDEX_FORMAT_VERSIONS_READ,
  decodeLogRowKey,
  decodeMetaFormatValue,
  decodeOwnerKey,
  decodeOwnerValue,
  decodeRunKey,
  decodeRunValue,
  decodeSegmentKey,
  decodeSegmentValue,
  encodeMetaFormatValue,
  encodeOwnerValue,
  encodeRunValue,
  encodeSegmentValue,
  logKey,
  logRange,
  metaFormatKey,
  ownerKey,
  ownerRange,
  runKey,
  runRange,
  segmentKey,
  tagRange,
  type KeyRange,
} from './catalog-keys.js';
import { decodeRunGroupKey, encodeRunGroupValue, packRunGroups, runGroupKey, runGroupRange } from './run-groups.js';
import { RunGroupCollector, mergeRuns } from './run-list.js';
import type { RunEntry, SegmentEntry } from './types.js';

type Db = ClassicLevel<Buffer, Buffer>;

type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };
/** An explicit LevelDB snapshot (classic-level): iterators given it see the rows as of its creation. */
type CatalogSnapshot = ReturnType<Db['snapshot']>;

/** A row a tenant writes with a durable append or reads back (key built with catalog-keys.ts logRowKey). */
export interface CatalogRow {
  key: Buffer;
  value: Buffer;
}

export class Catalog {
  private constructor(
    private readonly db: Db,
    /** Directory of the LevelDB files. */
    readonly dir: string,
  ) {}

  /** Opens (creating) the catalog in `dir`; upgrades format version 1, refuses an unknown one. */
  static async open(dir: string, log?: Logger): Promise<Catalog> {
    let db: Db;
    try {
      await fsp.mkdir(dir, { recursive: true });
      db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
    } catch (err) {
      throw ioError(err, `open index ${dir}`);
    }
    const catalog = new Catalog(db, dir);
    try {
      await catalog.checkFormat(log);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return catalog;
  }

  private async checkFormat(log: Logger | undefined): Promise<void> {
    const key = metaFormatKey();
    const stored = await this.call('read format version', () => this.db.get(key));
    if (stored === undefined) {
      await this.call('write format version', () => this.db.put(key, encodeMetaFormatValue(), { sync: true }));
      return;
    }
    const version = decodeMetaFormatValue(stored);
    if (!INDEX_FORMAT_VERSIONS_READ.includes(version)) {
      throw new PegasusError(ErrorCode.CORRUPT_DATA, `index ${this.dir} has format version ${version}; this server reads ${INDEX_FORMAT_VERSIONS_READ.join(' and ')}`);
    }
    if (version !== INDEX_FORMAT_VERSION) {
      // Before any run group is written: a server of version 1 must never open an
      // index holding them (it would not see those runs), and from now on it refuses.
      await this.call('upgrade format version', () => this.db.put(key, encodeMetaFormatValue(), { sync: true }));
      log?.info('index format upgraded', { dir: this.dir, from: version, to: INDEX_FORMAT_VERSION });
    }
  }

  close(): Promise<void> {
    return this.call('close', () => this.db.close());
  }

  // ---- owners ----

  /** Records an owner; sync so that its logs are never listed without it. */
  putOwner(tenant: TenantName, owner: string): Promise<void> {
    const key = ownerKey(tenantLayout(tenant).tags.owner, owner);
    return this.call(`put owner ${tenant}/${owner}`, () => this.db.put(key, encodeOwnerValue(), { sync: true }));
  }

  listOwners(tenant: TenantName): Promise<string[]> {
    const tag = tenantLayout(tenant).tags.owner;
    return this.collect(tagRange(tag), `list owners of ${tenant}`, (k, v) => {
      decodeOwnerValue(v);
      return decodeOwnerKey(tag, k);
    });
  }

  /** Removes the owner and every row of its logs, in one synced batch. */
  async deleteOwner(tenant: TenantName, owner: string): Promise<void> {
    const tags = tenantLayout(tenant).tags;
    const ops: BatchOp[] = [{ type: 'del', key: ownerKey(tags.owner, owner) }];
    for (const tag of [tags.log, tags.run, tags.runGroup, tags.segment, ...tags.logPrivate]) await this.collectDeletes(ownerRange(tag, owner), ops);
    await this.call(`delete owner ${tenant}/${owner}`, () => this.db.batch(ops, { sync: true }));
  }

  // ---- logs ----

  /** Records a log with the tenant's value for it (synced). */
  putLog(log: LogId, value: Buffer): Promise<void> {
    const key = logKey(tenantLayout(log.tenant).tags.log, log);
    return this.call(`put log ${log.tenant}/${log.owner}/${log.id}`, () => this.db.put(key, value, { sync: true }));
  }

  /** Every log of a tenant with its value, ordered by owner then log id. */
  listLogs(tenant: TenantName): Promise<Array<{ log: LogId; value: Buffer }>> {
    const tag = tenantLayout(tenant).tags.log;
    return this.collect(tagRange(tag), `list logs of ${tenant}`, (k, v) => ({ log: decodeLogRowKey(tenant, tag, k, 0).log, value: v }));
  }

  /** Removes the log with its runs, segments and private rows, in one synced batch. */
  async deleteLog(log: LogId): Promise<void> {
    const tags = tenantLayout(log.tenant).tags;
    const ops: BatchOp[] = [{ type: 'del', key: logKey(tags.log, log) }];
    for (const tag of [tags.run, tags.runGroup, tags.segment, ...tags.logPrivate]) await this.collectDeletes(logRange(tag, log), ops);
    await this.call(`delete log ${log.tenant}/${log.owner}/${log.id}`, () => this.db.batch(ops, { sync: true }));
  }

  /**
   * The catalog half of a durable append: the runs (small ones as run-group
   * rows, larger ones a row each: RUN_GROUP_RUN_BYTES_MAX) and
   * segment lengths of one append plus the tenant's rows, as one batch (synced
   * unless `sync` is false: commitDurability process, see ../durability.ts),
   * after the segment bytes are durable.
   */
  writeAppend(log: LogId, runs: RunEntry[], segments: SegmentEntry[], rows: CatalogRow[], sync = true): Promise<void> {
    const tags = tenantLayout(log.tenant).tags;
    // Encode everything first: a bad entry fails here, before anything is written.
    const ops: BatchOp[] = [];
    const small: RunEntry[] = [];
    for (const r of runs) {
      if (r.length <= RUN_GROUP_RUN_BYTES_MAX) small.push(r);
      else ops.push({ type: 'put', key: runKey(tags.run, log, r), value: encodeRunValue(r) });
    }
    for (const row of packRunGroups(small)) ops.push({ type: 'put', key: runGroupKey(tags.runGroup, log, row.key), value: encodeRunGroupValue(row) });
    for (const s of segments) ops.push({ type: 'put', key: segmentKey(tags.segment, log, s.segmentId), value: encodeSegmentValue(s) });
    for (const row of rows) {
      if (!tags.logPrivate.includes(row.key[0]!)) throw new PegasusError(ErrorCode.INTERNAL, `row with tag ${row.key[0]} is not a private row of tenant ${log.tenant}`);
      ops.push({ type: 'put', key: row.key, value: row.value });
    }
    if (ops.length === 0) return Promise.resolve();
    return this.call(`write append of ${log.tenant}/${log.owner}/${log.id}`, () => this.db.batch(ops, { sync }));
  }

  /**
   * Runs of partitions [partitionStart, partitionEnd), ordered by partition, then
   * segmentId, then offset: the entries of the run-group rows of the range's
   * groups (run-list.ts puts them in order), merged with per-run rows of
   * indexes written before run groups (usually none: an empty range scan).
   */
  async listRuns(log: LogId, partitionStart: number, partitionEnd: number): Promise<RunEntry[]> {
    const tags = tenantLayout(log.tenant).tags;
    const what = `list runs of ${log.tenant}/${log.owner}/${log.id}`;
    const groupRange = runGroupRange(tags.runGroup, log, partitionStart, partitionEnd);
    const legacyRange = runRange(tags.run, log, partitionStart, partitionEnd);
    if (partitionStart === partitionEnd) return [];
    const collector = new RunGroupCollector(partitionStart, partitionEnd);
    // One snapshot for both scans: an append writes run rows and run-group rows in
    // one batch, and a read must see all of it or none of it.
    const snapshot = this.db.snapshot();
    let legacy: RunEntry[];
    try {
      [, legacy] = await Promise.all([
        this.scan(groupRange, what, (k, v) => collector.add(decodeRunGroupKey(log.tenant, tags.runGroup, k), v), snapshot),
        this.collect(legacyRange, what, (k, v) => {
          const key = decodeRunKey(log.tenant, tags.run, k);
          return { partition: key.partition, segmentId: key.segmentId, offset: key.offset, ...decodeRunValue(v) };
        }, snapshot),
      ]);
    } finally {
      await snapshot.close();
    }
    const grouped = collector.finish();
    return legacy.length === 0 ? grouped : mergeRuns(legacy, grouped);
  }

  /** Segments ordered by segment id. */
  listSegments(log: LogId): Promise<SegmentEntry[]> {
    const tag = tenantLayout(log.tenant).tags.segment;
    return this.collect(logRange(tag, log), `list segments of ${log.tenant}/${log.owner}/${log.id}`, (k, v) => (
      { segmentId: decodeSegmentKey(log.tenant, tag, k).segmentId, ...decodeSegmentValue(v) }
    ));
  }

  /** Every segment of every log of a tenant, with its log (one scan: for tenants whose logs are not kept open). */
  listTenantSegments(tenant: TenantName): Promise<Array<{ log: LogId; segment: SegmentEntry }>> {
    const tag = tenantLayout(tenant).tags.segment;
    return this.collect(tagRange(tag), `list segments of tenant ${tenant}`, (k, v) => {
      const { log, segmentId } = decodeSegmentKey(tenant, tag, k);
      return { log, segment: { segmentId, ...decodeSegmentValue(v) } };
    });
  }

  /** The log's private rows of one tag, in key order. */
  listPrivate<T>(log: LogId, tag: number, decode: (key: Buffer, value: Buffer) => T): Promise<T[]> {
    if (!tenantLayout(log.tenant).tags.logPrivate.includes(tag)) throw new PegasusError(ErrorCode.INTERNAL, `tag ${tag} is not a private tag of tenant ${log.tenant}`);
    return this.collect(logRange(tag, log), `list rows ${tag} of ${log.tenant}/${log.owner}/${log.id}`, decode);
  }

  // ---------------------------------------------------------------------------
  // A tenant's own rows (tags in its layout's `rows`): keys and values are the
  // tenant's, documented beside its code.

  private checkRowKey(tenant: TenantName, key: Buffer): void {
    if (key.length === 0 || !tenantLayout(tenant).tags.rows.includes(key[0]!)) {
      throw new PegasusError(ErrorCode.INTERNAL, `row key with tag ${key[0]} is not a row of tenant ${tenant}`);
    }
  }

  /** The tenant's row at `key`, or undefined. */
  getRow(tenant: TenantName, key: Buffer): Promise<Buffer | undefined> {
    this.checkRowKey(tenant, key);
    return this.call(`get row of ${tenant}`, () => this.db.get(key));
  }

  /** The tenant's rows of `range` in key order (the last first with `reverse`), at most `limit`. */
  async listRows(tenant: TenantName, range: KeyRange, limit: number, reverse = false): Promise<CatalogRow[]> {
    this.checkRowKey(tenant, range.gte);
    const out: CatalogRow[] = [];
    try {
      const it = this.db.iterator({ ...range, limit, reverse });
      try {
        for (let rows = await it.nextv(Math.min(limit, CATALOG_ROWS_PER_STEP)); rows.length > 0; rows = await it.nextv(CATALOG_ROWS_PER_STEP)) {
          for (const [key, value] of rows) out.push({ key, value });
        }
      } finally {
        await it.close();
      }
    } catch (err) {
      throw ioError(err, `index: list rows of ${tenant}`);
    }
    return out;
  }

  /** Puts and deletes of the tenant's rows as one batch (synced unless `sync` is false). */
  writeRows(tenant: TenantName, puts: readonly CatalogRow[], dels: readonly Buffer[], sync: boolean): Promise<void> {
    const ops: BatchOp[] = [];
    for (const key of dels) {
      this.checkRowKey(tenant, key);
      ops.push({ type: 'del', key });
    }
    for (const row of puts) {
      this.checkRowKey(tenant, row.key);
      ops.push({ type: 'put', key: row.key, value: row.value });
    }
    if (ops.length === 0) return Promise.resolve();
    return this.call(`write rows of ${tenant}`, () => this.db.batch(ops, { sync }));
  }

  private async collect<T>(range: KeyRange, what: string, decode: (key: Buffer, value: Buffer) => T, snapshot?: CatalogSnapshot): Promise<T[]> {
    const out: T[] = [];
    await this.scan(range, what, (key, value) => out.push(decode(key, value)), snapshot);
    return out;
  }

  /** Calls `onRow` for every row of `range`, in key order (as of `snapshot`, if given). */
  private async scan(range: KeyRange, what: string, onRow: (key: Buffer, value: Buffer) => void, snapshot?: CatalogSnapshot): Promise<void> {
    try {
      // Rows a batch per call, not a promise per row: a read of 1,000 small
      // partitions lists tens of thousands of runs (issue 10).
      const it = this.db.iterator(snapshot === undefined ? range : { ...range, snapshot });
      try {
        for (let rows = await it.nextv(CATALOG_ROWS_PER_STEP); rows.length > 0; rows = await it.nextv(CATALOG_ROWS_PER_STEP)) {
          for (const [key, value] of rows) onRow(key, value);
        }
      } finally {
        await it.close();
      }
    } catch (err) {
      throw ioError(err, `index: ${what}`);
    }
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
