// The path namespace of the objects tenant: directory entries in the catalog
// (object-rows.ts, OBJECT_ROWS.md), keyed by parent id and name, so a
// directory's children are one key range (listed in name order, paginated) and
// a rename of a file or of a whole directory is one batch that moves one entry:
// atomic, whatever lies under it.
//
// Mutations (mkdirs, rename, delete, a file made visible at close, expiry) run
// one at a time (the lock): each reads what it depends on and writes one batch
// before the next starts. Reads (stat, list, lookups for reads) take no lock:
// every batch is atomic, so a read sees a namespace before or after a
// mutation, never half of one. A deleted file or directory leaves a pending row
// in the same batch that removes its entry; the service reclaims what it names
// (object-service.ts), and a restart finishes any reclaim left undone.
//
// Quotas: per top-level directory, bytes (of files) and objects (files and
// directories, the top-level one included), 0 meaning no limit. Usage is
// counted here, from the visible entries (walked at open), and checked before
// a change that would grow it: a create, each append (through reserveBytes,
// which counts the bytes of writers not yet closed), a close, a mkdirs, a
// rename into another top-level directory. QUOTA_EXCEEDED otherwise.
//
// TTLs: a file created with a TTL expires at its close time plus the TTL. From
// then on it is invisible (lookups and listings skip it); an expiry row per
// such file lets housekeeping find and delete the expired ones in time order.
//
// Cache files: the server may delete them when it runs short of space, least
// recently used first (closed or read). Their order is kept here, in memory
// (rebuilt at open in close-time order), with where each entry is.
import { crc32c } from '../../../native/ts/crc32c.js';
import { PathKind } from '../../../schemas/ts/messages.js';
import type { Catalog, CatalogRow } from '../engine/catalog/catalog.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { NAMESPACE_ENTRIES_CACHED_MAX, OBJECT_IDS_PER_RESERVATION } from '../limits.js';
import { joinPath } from './object-path.js';
import {
  FIRST_ID, OBJECTS_TENANT, PendingState, ROOT_ID, childrenAfter, childrenRange, counterKey, decodeCounter, decodeEntry, decodeExpiryKey,
  decodeExpiryValue, decodeQuota, encodeCounter, encodeEntry, encodeExpiryValue, encodePending, encodeQuota, entriesRange, entryKey, entryName,
  decodeInline, expiredRange, expiryKey, inlineKey, isEntryKey, pendingKey, quotaKey, quotaRange, quotaTopOf, type Entry, type Quota,
} from './object-rows.js';

const TENANT = OBJECTS_TENANT.name;
/** Rows one step of forEachEntry reads. */
const ENTRIES_PER_SCAN = 10_000;
const NO_DIRS: ReadonlySet<number> = new Set();

/** The root directory, as an entry. */
const ROOT: Entry = { kind: PathKind.DIRECTORY, id: ROOT_ID, length: 0, mtimeMs: 0, ttlMs: 0, cache: false, tierId: null };

function notFound(parts: readonly string[], what = 'no such file or directory'): PegasusError {
  return new PegasusError(ErrorCode.NOT_FOUND, `${joinPath(parts)}: ${what}`);
}

/** Whether an entry is a file past its expiry time at `nowMs`. */
export function expired(e: Entry, nowMs: number): boolean {
  return e.ttlMs > 0 && nowMs >= e.mtimeMs + e.ttlMs;
}

/** What a change left to reclaim: pending rows written in its batch. */
export interface Reclaim {
  id: number;
  state: PendingState.DELETING_FILE | PendingState.DELETING_DIR;
  /** The top-level directory whose usage the reclaimed entries still count in (null: they count nowhere). */
  top: string | null;
  /** A file's bytes are inline in the index (true), in its segment log (false), or either (undefined: after a restart). */
  inline?: boolean;
}

/** Bytes and objects under a top-level directory. */
export interface Usage {
  bytes: number;
  objects: number;
}

/** Where a cache file's entry is, for its eviction. */
interface CacheFile {
  parent: number;
  name: string;
  top: string;
  bytes: number;
}

/** A quota with what its directory uses. */
export interface QuotaState extends Quota, Usage {
  top: string;
  /** Bytes of files being written under it, counted against bytesMax until they close. */
  writingBytes: number;
}

export class Namespace {
  private lock: Promise<void> = Promise.resolve();
  private nextId = 0;
  private reservedUpTo = 0;
  private readonly usage = new Map<string, Usage>();
  private readonly quotas = new Map<string, Quota>();
  /** Bytes appended by writers not yet closed, per top-level directory. */
  private readonly writing = new Map<string, number>();
  /** Directory entries read or written lately, by key (null: known absent), least recently used first; kept exact by write(). */
  private readonly entries = new Map<string, Entry | null>();
  /**
   * Directories all of whose entries are in the cache (made by this process and
   * none of their entries dropped from the cache since): a name missing from the
   * cache is missing from the index, with no lookup.
   */
  private readonly completeDirs = new Set<number>();
  /** Counts batches written: a read that started before one must not fill the entry cache with what it read. */
  private generation = 0;
  /** Cache files by id, least recently used first (a Map keeps insertion order; a use moves one to the end). */
  private readonly cacheFiles = new Map<number, CacheFile>();

  constructor(
    private readonly catalog: Catalog,
    /** Sync every batch (commitDurability sync) or leave it to the OS (process). */
    private readonly sync: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads the id counter (ids below it may have been handed out before a restart and are never reused), the quotas, and counts usage. */
  async open(): Promise<void> {
    const v = await this.catalog.getRow(TENANT, counterKey());
    this.nextId = v === undefined ? FIRST_ID : decodeCounter(v);
    this.reservedUpTo = this.nextId;
    for (const row of await this.catalog.listRows(TENANT, quotaRange(), Number.MAX_SAFE_INTEGER)) this.quotas.set(quotaTopOf(row.key), decodeQuota(row.value));
    const cached: Array<{ entry: Entry; parent: number; name: string; top: string }> = [];
    for (const row of await this.catalog.listRows(TENANT, childrenRange(ROOT_ID), Number.MAX_SAFE_INTEGER)) {
      const e = decodeEntry(row.value);
      const top = entryName(row.key);
      const found: Array<{ entry: Entry; parent: number; name: string }> = [];
      if (e.cache) found.push({ entry: e, parent: ROOT_ID, name: top });
      this.usage.set(top, await this.subtreeUsage(e, undefined, found));
      for (const f of found) cached.push({ ...f, top });
    }
    // A namespace with no entries at all: the root's (none) are all known.
    if ((await this.catalog.listRows(TENANT, entriesRange(), 1)).length === 0) this.completeDirs.add(ROOT_ID);
    cached.sort((a, b) => a.entry.mtimeMs - b.entry.mtimeMs);
    for (const c of cached) this.cacheFiles.set(c.entry.id, { parent: c.parent, name: c.name, top: c.top, bytes: c.entry.length });
  }

  /** Runs `fn` alone among mutations. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(() => undefined, () => undefined);
    return run;
  }

  /** A new id for an object or directory; reserves a range of ids (one synced row) when the last is spent. */
  async allocateId(): Promise<number> {
    if (this.nextId >= this.reservedUpTo) await this.locked(() => this.reserveIds());
    return this.nextId++;
  }

  /** allocateId() from inside the lock (which allocateId() would wait for). */
  private async allocateIdLocked(): Promise<number> {
    await this.reserveIds();
    return this.nextId++;
  }

  private async reserveIds(): Promise<void> {
    if (this.nextId < this.reservedUpTo) return;
    const upTo = this.nextId + OBJECT_IDS_PER_RESERVATION;
    // Always synced: an id reused after a power loss could name two objects' logs.
    await this.write([{ key: counterKey(), value: encodeCounter(upTo) }], [], true);
    this.reservedUpTo = upTo;
  }

  // Quotas and usage -----------------------------------------------------------

  private usageOf(top: string): Usage {
    let u = this.usage.get(top);
    if (u === undefined) {
      u = { bytes: 0, objects: 0 };
      this.usage.set(top, u);
    }
    return u;
  }

  private addUsage(top: string | null, bytes: number, objects: number): void {
    if (top === null) return;
    const u = this.usageOf(top);
    u.bytes += bytes;
    u.objects += objects;
    if (u.bytes <= 0 && u.objects <= 0) this.usage.delete(top);
  }

  /** QUOTA_EXCEEDED if `top` growing by `bytes` and `objects` would pass its quota. */
  private checkQuota(top: string, bytes: number, objects: number): void {
    const q = this.quotas.get(top);
    if (q === undefined) return;
    const u = this.usage.get(top) ?? { bytes: 0, objects: 0 };
    const writing = this.writing.get(top) ?? 0;
    if (q.bytesMax > 0 && bytes > 0 && u.bytes + writing + bytes > q.bytesMax) {
      throw new PegasusError(ErrorCode.QUOTA_EXCEEDED, `/${top} would hold ${u.bytes + writing + bytes} bytes (${writing} of them being written), quota ${q.bytesMax}`);
    }
    if (q.objectsMax > 0 && objects > 0 && u.objects + objects > q.objectsMax) {
      throw new PegasusError(ErrorCode.QUOTA_EXCEEDED, `/${top} would hold ${u.objects + objects} files and directories, quota ${q.objectsMax}`);
    }
  }

  /** Counts `bytes` a writer under `top` appends; QUOTA_EXCEEDED (and nothing counted) past the quota. */
  reserveBytes(top: string, bytes: number): void {
    this.checkQuota(top, bytes, 0);
    this.writing.set(top, (this.writing.get(top) ?? 0) + bytes);
  }

  /** A writer under `top` closed or went away: its appended bytes no longer count as being written. */
  releaseBytes(top: string, bytes: number): void {
    const left = (this.writing.get(top) ?? 0) - bytes;
    if (left > 0) this.writing.set(top, left);
    else this.writing.delete(top);
  }

  /** Whether a file could be created under `top` now (one more object); QUOTA_EXCEEDED otherwise. */
  checkCreate(top: string): void {
    this.checkQuota(top, 0, 1);
  }

  /** Sets (or with both 0, removes) the quota of a top-level directory. */
  setQuota(top: string, q: Quota): Promise<void> {
    return this.locked(async () => {
      if (q.bytesMax === 0 && q.objectsMax === 0) {
        await this.write([], [quotaKey(top)], true);
        this.quotas.delete(top);
      } else {
        await this.write([{ key: quotaKey(top), value: encodeQuota(q) }], [], true);
        this.quotas.set(top, { ...q });
      }
    });
  }

  /** Every quota with its directory's usage, by name. */
  quotaStates(): QuotaState[] {
    return [...this.quotas.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(([top, q]) => {
      const u = this.usage.get(top) ?? { bytes: 0, objects: 0 };
      return { top, ...q, ...u, writingBytes: this.writing.get(top) ?? 0 };
    });
  }

  /** Usage of a top-level directory (zeros for one that holds nothing). */
  usageOfTop(top: string): Usage {
    return { ...(this.usage.get(top) ?? { bytes: 0, objects: 0 }) };
  }

  /**
   * Bytes and objects of an entry and everything under it (expired files
   * included: they still hold their bytes); the files with a TTL below it go to
   * `expiring` when given.
   */
  private async subtreeUsage(
    e: Entry,
    expiring?: Array<{ entry: Entry; parent: number; name: string }>,
    cached?: Array<{ entry: Entry; parent: number; name: string }>,
  ): Promise<Usage> {
    if (e.kind === PathKind.FILE) return { bytes: e.length, objects: 1 };
    const u: Usage = { bytes: 0, objects: 1 };
    const range = childrenRange(e.id);
    for (let from = range; ;) {
      const rows = await this.catalog.listRows(TENANT, from, ENTRIES_PER_SCAN);
      for (const r of rows) {
        const child = decodeEntry(r.value);
        if (expiring !== undefined && child.ttlMs > 0) expiring.push({ entry: child, parent: e.id, name: entryName(r.key) });
        if (cached !== undefined && child.cache) cached.push({ entry: child, parent: e.id, name: entryName(r.key) });
        const s = await this.subtreeUsage(child, expiring, cached);
        u.bytes += s.bytes;
        u.objects += s.objects;
      }
      if (rows.length < ENTRIES_PER_SCAN) return u;
      from = { gte: Buffer.concat([rows[rows.length - 1]!.key, Buffer.of(0)]), lt: range.lt };
    }
  }

  // Lookups -------------------------------------------------------------------

  /** The entry at (parent, name), expired or not: from the entry cache, or the index (then cached). */
  private async rawChild(parent: number, name: string): Promise<Entry | null> {
    const key = entryKey(parent, name);
    const k = key.toString('latin1');
    const cached = this.entries.get(k);
    if (cached !== undefined) {
      this.entries.delete(k); // most recently used last
      this.entries.set(k, cached);
      return cached;
    }
    if (this.completeDirs.has(parent)) return null;
    const generation = this.generation;
    const v = await this.catalog.getRow(TENANT, key);
    const e = v === undefined ? null : decodeEntry(v);
    if (generation === this.generation) this.remember(k, e);
    return e;
  }

  private remember(k: string, e: Entry | null): void {
    this.entries.delete(k);
    this.entries.set(k, e);
    if (this.entries.size > NAMESPACE_ENTRIES_CACHED_MAX) {
      const oldest = this.entries.keys().next().value!;
      this.entries.delete(oldest);
      // Its directory's entries are no longer all here.
      this.completeDirs.delete(Number(Buffer.from(oldest, 'latin1').readBigUInt64BE(1)));
    }
  }

  /**
   * Every batch of the tenant's rows goes through here: once written, the
   * entry cache holds what it wrote (entries put, entries deleted known absent).
   */
  private async write(puts: readonly CatalogRow[], dels: readonly Buffer[], sync: boolean, createdDirs: ReadonlySet<number> = NO_DIRS): Promise<void> {
    this.generation++;
    try {
      await this.catalog.writeRows(TENANT, puts, dels, sync);
    } catch (err) {
      // What the batch did is unknown: forget what it touched.
      for (const r of puts) if (isEntryKey(r.key)) this.entries.delete(r.key.toString('latin1'));
      for (const k of dels) if (isEntryKey(k)) this.entries.delete(k.toString('latin1'));
      throw err;
    } finally {
      this.generation++;
    }
    for (const k of dels) if (isEntryKey(k)) this.remember(k.toString('latin1'), null);
    for (const r of puts) {
      if (!isEntryKey(r.key)) continue;
      const e = decodeEntry(r.value);
      this.remember(r.key.toString('latin1'), e);
      // A directory made by this batch has no entries yet: all of them (none) are known.
      if (e.kind === PathKind.DIRECTORY && createdDirs.has(e.id)) this.completeDirs.add(e.id);
    }
  }

  /** The visible entry at (parent, name): an expired file is not there. */
  private async child(parent: number, name: string): Promise<Entry | null> {
    const e = await this.rawChild(parent, name);
    return e === null || expired(e, this.now()) ? null : e;
  }

  /**
   * The directory entry chain of `parts`' parent: every ancestor must be a
   * directory (NOT_A_DIRECTORY otherwise). Returns null when an ancestor is missing.
   */
  private async parentOf(parts: readonly string[]): Promise<Entry | null> {
    let dir = ROOT;
    for (let i = 0; i < parts.length - 1; i++) {
      const e = await this.child(dir.id, parts[i]!);
      if (e === null) return null;
      if (e.kind !== PathKind.DIRECTORY) throw new PegasusError(ErrorCode.NOT_A_DIRECTORY, `${joinPath(parts.slice(0, i + 1))} is a file, not a directory (in ${joinPath(parts)})`);
      dir = e;
    }
    return dir;
  }

  /** What `parts` names, or null (also when an ancestor is a file: nothing can be there). */
  async lookup(parts: readonly string[]): Promise<Entry | null> {
    if (parts.length === 0) return ROOT;
    const parent = await this.parentOrNull(parts);
    return parent === null ? null : this.child(parent.id, parts[parts.length - 1]!);
  }

  /** What `parts` names, or null; NOT_A_DIRECTORY when an ancestor is a file (for changes that would put something there). */
  async lookupForChange(parts: readonly string[]): Promise<Entry | null> {
    if (parts.length === 0) return ROOT;
    const parent = await this.parentOf(parts);
    return parent === null ? null : this.child(parent.id, parts[parts.length - 1]!);
  }

  /** parentOf(), with an ancestor that is a file answered as a missing parent (for reads and deletes). */
  private async parentOrNull(parts: readonly string[]): Promise<Entry | null> {
    try {
      return await this.parentOf(parts);
    } catch (err) {
      if (PegasusError.is(err, ErrorCode.NOT_A_DIRECTORY)) return null;
      throw err;
    }
  }

  /** What `parts` names; NOT_FOUND when nothing. */
  async stat(parts: readonly string[]): Promise<Entry> {
    const e = await this.lookup(parts);
    if (e === null) throw notFound(parts);
    return e;
  }

  /** Entries of the directory `parts` after `startAfter`, at most `limit`, and whether more follow. */
  async list(parts: readonly string[], startAfter: string, limit: number): Promise<{ entries: Array<{ name: string; entry: Entry }>; more: boolean }> {
    const dir = await this.stat(parts);
    if (dir.kind !== PathKind.DIRECTORY) throw new PegasusError(ErrorCode.NOT_A_DIRECTORY, `${joinPath(parts)} is a file, not a directory`);
    const now = this.now();
    const out: Array<{ name: string; entry: Entry }> = [];
    const all = childrenAfter(dir.id, startAfter);
    // Expired files are skipped, so a page may need more than one scan to fill.
    for (let range = all; ;) {
      const rows = await this.catalog.listRows(TENANT, range, limit + 1 - out.length);
      for (const r of rows) {
        const entry = decodeEntry(r.value);
        if (expired(entry, now)) continue;
        if (out.length === limit) return { entries: out, more: true };
        out.push({ name: entryName(r.key), entry });
      }
      if (rows.length < limit + 1 - out.length || rows.length === 0) return { entries: out, more: false };
      range = { gte: Buffer.concat([rows[rows.length - 1]!.key, Buffer.of(0)]), lt: all.lt };
    }
  }

  /** Calls `fn` with every directory entry of the namespace (a page of rows at a time). */
  async forEachEntry(fn: (e: Entry) => void): Promise<void> {
    const all = entriesRange();
    for (let range = all; ;) {
      const rows = await this.catalog.listRows(TENANT, range, ENTRIES_PER_SCAN);
      for (const r of rows) fn(decodeEntry(r.value));
      if (rows.length < ENTRIES_PER_SCAN) return;
      range = { gte: Buffer.concat([rows[rows.length - 1]!.key, Buffer.of(0)]), lt: all.lt };
    }
  }

  // Mutations ---------------------------------------------------------------

  /**
   * An expired file at a key a change is about to write over: its removal joins
   * the change's batch (pending row, expiry row gone, usage given back).
   */
  private displace(e: Entry, top: string | null, puts: CatalogRow[], dels: Buffer[], reclaims: Reclaim[]): void {
    this.cacheFiles.delete(e.id);
    puts.push({ key: pendingKey(e.id), value: encodePending(PendingState.DELETING_FILE) });
    dels.push(expiryKey(e.mtimeMs + e.ttlMs, e.id));
    this.addUsage(top, -e.length, -1);
    reclaims.push({ id: e.id, state: PendingState.DELETING_FILE, top: null, inline: e.inline === true });
  }

  /**
   * Puts the rows creating the missing directories of `parts` (all of them when
   * `includeLast`) into `puts`; returns the id of the deepest one and how many it
   * creates. Inside the lock.
   */
  private async ensureDirs(
    parts: readonly string[], includeLast: boolean, nowMs: number, puts: CatalogRow[], dels: Buffer[], reclaims: Reclaim[], made?: Set<number>,
  ): Promise<{ id: number; created: number }> {
    let dir = ROOT.id;
    const n = includeLast ? parts.length : parts.length - 1;
    let created = 0;
    for (let i = 0; i < n; i++) {
      const name = parts[i]!;
      const e = created > 0 ? null : await this.rawChild(dir, name);
      if (e !== null && !expired(e, nowMs)) {
        if (e.kind !== PathKind.DIRECTORY) {
          const here = joinPath(parts.slice(0, i + 1));
          if (i === parts.length - 1) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${here} is a file; no directory can be made there`);
          throw new PegasusError(ErrorCode.NOT_A_DIRECTORY, `${here} is a file, not a directory`);
        }
        dir = e.id;
        continue;
      }
      if (e !== null) this.displace(e, parts[0]!, puts, dels, reclaims);
      if (created === 0) this.checkQuota(parts[0]!, 0, n - i);
      const id = await this.allocateIdLocked();
      puts.push({ key: entryKey(dir, name), value: encodeEntry({ kind: PathKind.DIRECTORY, id, length: 0, mtimeMs: nowMs, ttlMs: 0, cache: false, tierId: null }) });
      made?.add(id);
      created++;
      dir = id;
    }
    return { id: dir, created };
  }

  /** Creates the directory `parts` and its missing parents; fine if it exists. Returns what it displaced. */
  mkdirs(parts: readonly string[]): Promise<Reclaim[]> {
    return this.locked(async () => {
      if (parts.length === 0) return [];
      const puts: CatalogRow[] = [];
      const dels: Buffer[] = [];
      const reclaims: Reclaim[] = [];
      const made = new Set<number>();
      const { created } = await this.ensureDirs(parts, true, this.now(), puts, dels, reclaims, made);
      await this.write(puts, dels, this.sync, made);
      this.addUsage(parts[0]!, 0, created);
      return reclaims;
    });
  }

  /**
   * Makes a written file visible at `parts` (creating missing parents), in one
   * batch that also drops its pending row. With `overwrite`, a file already
   * there is replaced and returned for reclaim; a directory there is
   * IS_A_DIRECTORY, a file without `overwrite` ALREADY_EXISTS. An expired file
   * there is replaced either way.
   */
  commitFile(parts: readonly string[], entry: Entry, overwrite: boolean, rows: readonly CatalogRow[] = []): Promise<Reclaim[]> {
    return this.locked(async () => {
      const puts: CatalogRow[] = [...rows];
      const dels: Buffer[] = [pendingKey(entry.id)];
      const reclaims: Reclaim[] = [];
      const top = parts[0]!;
      const nowMs = entry.mtimeMs;
      const made = new Set<number>();
      const parent = await this.ensureDirs(parts, false, nowMs, puts, dels, reclaims, made);
      const name = parts[parts.length - 1]!;
      const existing = parent.created > 0 ? null : await this.rawChild(parent.id, name);
      let objects = 1;
      let bytes = entry.length;
      if (existing !== null && expired(existing, nowMs)) {
        this.displace(existing, top, puts, dels, reclaims);
      } else if (existing !== null) {
        if (existing.kind === PathKind.DIRECTORY) throw new PegasusError(ErrorCode.IS_A_DIRECTORY, `${joinPath(parts)} is a directory`);
        if (!overwrite) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${joinPath(parts)} already exists`);
        reclaims.push({ id: existing.id, state: PendingState.DELETING_FILE, top: null, inline: existing.inline === true });
        this.cacheFiles.delete(existing.id);
        puts.push({ key: pendingKey(existing.id), value: encodePending(PendingState.DELETING_FILE) });
        if (existing.ttlMs > 0) dels.push(expiryKey(existing.mtimeMs + existing.ttlMs, existing.id));
        objects = 0;
        bytes -= existing.length;
      }
      // The bytes were counted as being written while appended; objects are checked now.
      this.checkQuota(top, 0, objects + parent.created);
      puts.push({ key: entryKey(parent.id, name), value: encodeEntry(entry) });
      if (entry.ttlMs > 0) puts.push({ key: expiryKey(entry.mtimeMs + entry.ttlMs, entry.id), value: encodeExpiryValue({ parent: parent.id, top, name }) });
      await this.write(puts, dels, this.sync, made);
      this.addUsage(top, bytes, objects + parent.created);
      if (entry.cache) this.cacheFiles.set(entry.id, { parent: parent.id, name, top, bytes: entry.length });
      return reclaims;
    });
  }

  /** Moves `from` (a file, or a directory with everything under it) to `to`, which must not exist. Returns what it displaced. */
  rename(from: readonly string[], to: readonly string[]): Promise<Reclaim[]> {
    return this.locked(async () => {
      if (from.length === 0) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'the root directory cannot be renamed');
      if (to.length === 0) throw new PegasusError(ErrorCode.ALREADY_EXISTS, 'cannot rename onto the root directory');
      const fromParent = await this.parentOrNull(from);
      const src = fromParent === null ? null : await this.child(fromParent.id, from[from.length - 1]!);
      if (fromParent === null || src === null) throw notFound(from);
      // The destination's ancestors, checked one by one: none may be the source itself.
      let dir = ROOT;
      for (let i = 0; i < to.length - 1; i++) {
        const e = await this.child(dir.id, to[i]!);
        if (e === null) throw notFound(to, `parent ${joinPath(to.slice(0, i + 1))} does not exist`);
        if (e.kind !== PathKind.DIRECTORY) throw new PegasusError(ErrorCode.NOT_A_DIRECTORY, `${joinPath(to.slice(0, i + 1))} is a file, not a directory`);
        if (e.id === src.id) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `cannot move ${joinPath(from)} under itself (${joinPath(to)})`);
        dir = e;
      }
      const name = to[to.length - 1]!;
      const fromKey = entryKey(fromParent.id, from[from.length - 1]!);
      const toKey = entryKey(dir.id, name);
      if (fromKey.equals(toKey)) return []; // onto itself: nothing to do
      const puts: CatalogRow[] = [{ key: toKey, value: encodeEntry(src) }];
      const dels: Buffer[] = [fromKey];
      const reclaims: Reclaim[] = [];
      const there = await this.rawChild(dir.id, name);
      if (there !== null && !expired(there, this.now())) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${joinPath(to)} already exists`);
      const fromTop = from[0]!;
      const toTop = to[0]!;
      // Into another top-level directory: its usage moves, and so does the top-level name in the expiry rows below.
      const expiring: Array<{ entry: Entry; parent: number; name: string }> = [];
      const cached: Array<{ entry: Entry; parent: number; name: string }> = [];
      const moved = fromTop === toTop ? null : await this.subtreeUsage(src, expiring, cached);
      if (moved !== null) this.checkQuota(toTop, moved.bytes, moved.objects);
      if (there !== null) this.displace(there, toTop, puts, dels, reclaims);
      for (const x of expiring) {
        puts.push({ key: expiryKey(x.entry.mtimeMs + x.entry.ttlMs, x.entry.id), value: encodeExpiryValue({ parent: x.parent, top: toTop, name: x.name }) });
      }
      // An expiring file's expiry row says where its entry is: it follows the entry.
      if (src.ttlMs > 0) puts.push({ key: expiryKey(src.mtimeMs + src.ttlMs, src.id), value: encodeExpiryValue({ parent: dir.id, top: toTop, name }) });
      await this.write(puts, dels, this.sync);
      if (moved !== null) {
        this.addUsage(fromTop, -moved.bytes, -moved.objects);
        this.addUsage(toTop, moved.bytes, moved.objects);
      }
      for (const c of cached) {
        const f = this.cacheFiles.get(c.entry.id);
        if (f !== undefined) f.top = toTop;
      }
      const self = this.cacheFiles.get(src.id);
      if (self !== undefined) Object.assign(self, { parent: dir.id, name, top: toTop });
      return reclaims;
    });
  }

  /**
   * Removes the entry of `parts` (a directory only when empty or `recursive`)
   * and writes the pending row that names what to reclaim, in one batch.
   * Null when nothing was there.
   */
  remove(parts: readonly string[], recursive: boolean): Promise<Reclaim | null> {
    return this.locked(async () => {
      if (parts.length === 0) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'the root directory cannot be deleted (delete its entries)');
      const parent = await this.parentOrNull(parts);
      if (parent === null) return null;
      const e = await this.child(parent.id, parts[parts.length - 1]!);
      if (e === null) return null;
      if (e.kind === PathKind.DIRECTORY && !recursive) {
        const first = await this.catalog.listRows(TENANT, childrenRange(e.id), 1);
        if (first.length > 0) throw new PegasusError(ErrorCode.DIRECTORY_NOT_EMPTY, `${joinPath(parts)} is a directory with entries; delete it recursively`);
      }
      return this.removeEntry(parent.id, parts[parts.length - 1]!, e, parts[0]!);
    });
  }

  /** The batch of a removal (inside the lock): entry gone, pending row in, expiry row gone; usage of the entry itself given back. */
  private async removeEntry(parent: number, name: string, e: Entry, top: string): Promise<Reclaim> {
    const state = e.kind === PathKind.DIRECTORY ? PendingState.DELETING_DIR : PendingState.DELETING_FILE;
    const dels = [entryKey(parent, name)];
    if (e.ttlMs > 0) dels.push(expiryKey(e.mtimeMs + e.ttlMs, e.id));
    await this.write([{ key: pendingKey(e.id), value: encodePending(state) }], dels, this.sync);
    this.addUsage(top, e.kind === PathKind.FILE ? -e.length : 0, -1);
    this.cacheFiles.delete(e.id);
    return { id: e.id, state, top, inline: e.inline === true };
  }

  /**
   * Moves up to `max` entries of a deleted directory `dirId` (no longer
   * reachable) to pending rows, in one batch; returns them (none: the
   * directory is empty and its own pending row may go). Their usage leaves `top`.
   */
  async detachChildren(dirId: number, max: number, top: string | null): Promise<Reclaim[]> {
    const rows = await this.catalog.listRows(TENANT, childrenRange(dirId), max);
    const out: Reclaim[] = [];
    const puts: CatalogRow[] = [];
    const dels: Buffer[] = [];
    let bytes = 0;
    for (const r of rows) {
      const e = decodeEntry(r.value);
      const state = e.kind === PathKind.DIRECTORY ? PendingState.DELETING_DIR : PendingState.DELETING_FILE;
      out.push({ id: e.id, state, top, inline: e.inline === true });
      puts.push({ key: pendingKey(e.id), value: encodePending(state) });
      dels.push(r.key);
      if (e.ttlMs > 0) dels.push(expiryKey(e.mtimeMs + e.ttlMs, e.id));
      if (e.kind === PathKind.FILE) bytes += e.length;
      this.cacheFiles.delete(e.id);
    }
    await this.write(puts, dels, this.sync);
    this.addUsage(top, -bytes, -rows.length);
    return out;
  }

  /**
   * Deletes up to `max` files expired at `nowMs`, oldest first, each as a delete
   * would; returns what to reclaim. Rows that no longer match an entry (an
   * earlier crash) are dropped.
   */
  expire(nowMs: number, max: number): Promise<Reclaim[]> {
    return this.locked(async () => {
      const out: Reclaim[] = [];
      for (const row of await this.catalog.listRows(TENANT, expiredRange(nowMs), max)) {
        const { id } = decodeExpiryKey(row.key);
        const { parent, top, name } = decodeExpiryValue(row.value);
        const e = await this.rawChild(parent, name);
        if (e === null || e.id !== id) {
          await this.write([], [row.key], this.sync);
          continue;
        }
        out.push(await this.removeEntry(parent, name, e, top));
      }
      return out;
    });
  }

  /** A cache file was read: it becomes the most recently used. */
  touch(id: number): void {
    const f = this.cacheFiles.get(id);
    if (f === undefined) return;
    this.cacheFiles.delete(id);
    this.cacheFiles.set(id, f);
  }

  /** Cache files held, and their bytes. */
  cacheStats(): { files: number; bytes: number } {
    let bytes = 0;
    for (const f of this.cacheFiles.values()) bytes += f.bytes;
    return { files: this.cacheFiles.size, bytes };
  }

  /**
   * Deletes the least recently used cache file, as a delete would; returns what
   * to reclaim, or null when no cache file is left.
   */
  evictOne(): Promise<Reclaim | null> {
    return this.locked(async () => {
      for (const [id, f] of this.cacheFiles) {
        const e = await this.rawChild(f.parent, f.name);
        if (e === null || e.id !== id) {
          // Out of date (cannot happen while every change keeps the records): dropped, not a reason to delete anything.
          this.cacheFiles.delete(id);
          continue;
        }
        return this.removeEntry(f.parent, f.name, e, f.top);
      }
      return null;
    });
  }

  /** The inline row of a small file: its bytes, checked against their CRC32C and the entry's length. */
  async readInline(id: number, length: number): Promise<Buffer> {
    const v = await this.catalog.getRow(TENANT, inlineKey(id));
    if (v === undefined) throw new PegasusError(ErrorCode.CORRUPT_DATA, `object ${id} is inline but its bytes are not in the index`);
    const { crc32c: want, bytes } = decodeInline(v);
    if (bytes.length !== length) throw new PegasusError(ErrorCode.CORRUPT_DATA, `object ${id}: its entry says ${length} bytes, its inline row holds ${bytes.length}`);
    const got = crc32c(bytes);
    if (got !== want) throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `object ${id}: inline bytes have CRC32C ${got.toString(16)}, the row says ${want.toString(16)}`);
    return bytes;
  }

  /** Deletes a small file's inline row (nothing if it has none). */
  dropInline(id: number): Promise<void> {
    return this.write([], [inlineKey(id)], this.sync);
  }

  /** Writes the pending row of an object being written (before its first byte). */
  markWriting(id: number): Promise<void> {
    return this.write([{ key: pendingKey(id), value: encodePending(PendingState.WRITING) }], [], this.sync);
  }

  /** Drops a pending row once what it named is reclaimed. */
  dropPending(id: number): Promise<void> {
    return this.write([], [pendingKey(id)], this.sync);
  }
}
