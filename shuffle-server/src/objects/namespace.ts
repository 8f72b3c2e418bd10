// The path namespace of the objects tenant: directory entries in the catalog
// (object-rows.ts, OBJECT_ROWS.md), keyed by parent id and name, so a
// directory's children are one key range (listed in name order, paginated) and
// a rename of a file or of a whole directory is one batch that moves one entry:
// atomic, whatever lies under it.
//
// Mutations (mkdirs, rename, delete, a file made visible at close) run one at
// a time (the lock): each reads what it depends on and writes one batch before
// the next starts. Reads (stat, list, lookups for reads) take no lock: every
// batch is atomic, so a read sees a namespace before or after a mutation, never
// half of one. A deleted file or directory leaves a pending row in the same
// batch that removes its entry; the service reclaims what it names
// (object-service.ts), and a restart finishes any reclaim left undone.
import { PathKind } from '../../../schemas/ts/messages.js';
import type { Catalog, CatalogRow } from '../engine/catalog/catalog.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { OBJECT_IDS_PER_RESERVATION } from '../limits.js';
import { joinPath } from './object-path.js';
import {
  FIRST_ID, OBJECTS_TENANT, PendingState, ROOT_ID, childrenAfter, childrenRange, counterKey, decodeCounter, decodeEntry, encodeCounter,
  encodeEntry, encodePending, entriesRange, entryKey, entryName, pendingKey, type Entry,
} from './object-rows.js';

const TENANT = OBJECTS_TENANT.name;
/** Rows one step of forEachEntry reads. */
const ENTRIES_PER_SCAN = 10_000;

/** The root directory, as an entry. */
const ROOT: Entry = { kind: PathKind.DIRECTORY, id: ROOT_ID, length: 0, mtimeMs: 0, ttlMs: 0, cache: false, tierId: null };

function notFound(parts: readonly string[], what = 'no such file or directory'): PegasusError {
  return new PegasusError(ErrorCode.NOT_FOUND, `${joinPath(parts)}: ${what}`);
}

/** What a delete left to reclaim: pending rows written in its batch. */
export interface Reclaim {
  id: number;
  state: PendingState.DELETING_FILE | PendingState.DELETING_DIR;
}

export class Namespace {
  private lock: Promise<void> = Promise.resolve();
  private nextId = 0;
  private reservedUpTo = 0;

  constructor(
    private readonly catalog: Catalog,
    /** Sync every batch (commitDurability sync) or leave it to the OS (process). */
    private readonly sync: boolean,
  ) {}

  /** Reads the id counter; ids below it may have been handed out before a restart and are never reused. */
  async open(): Promise<void> {
    const v = await this.catalog.getRow(TENANT, counterKey());
    this.nextId = v === undefined ? FIRST_ID : decodeCounter(v);
    this.reservedUpTo = this.nextId;
  }

  /** Runs `fn` alone among mutations. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(() => undefined, () => undefined);
    return run;
  }

  /** A new id for an object or directory; reserves a range of ids (one synced row) when the last is spent. */
  async allocateId(): Promise<number> {
    if (this.nextId >= this.reservedUpTo) {
      await this.locked(async () => {
        if (this.nextId < this.reservedUpTo) return;
        const upTo = this.nextId + OBJECT_IDS_PER_RESERVATION;
        // Always synced: an id reused after a power loss could name two objects' logs.
        await this.catalog.writeRows(TENANT, [{ key: counterKey(), value: encodeCounter(upTo) }], [], true);
        this.reservedUpTo = upTo;
      });
    }
    return this.nextId++;
  }

  // Lookups -------------------------------------------------------------------

  private async child(parent: number, name: string): Promise<Entry | null> {
    const v = await this.catalog.getRow(TENANT, entryKey(parent, name));
    return v === undefined ? null : decodeEntry(v);
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

  /** What `parts` names, or null. */
  async lookup(parts: readonly string[]): Promise<Entry | null> {
    if (parts.length === 0) return ROOT;
    const parent = await this.parentOf(parts);
    return parent === null ? null : this.child(parent.id, parts[parts.length - 1]!);
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
    const rows = await this.catalog.listRows(TENANT, childrenAfter(dir.id, startAfter), limit + 1);
    const more = rows.length > limit;
    return { entries: rows.slice(0, limit).map((r) => ({ name: entryName(r.key), entry: decodeEntry(r.value) })), more };
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
   * Puts the rows creating the missing directories of `parts` (all of them when
   * `includeLast`) into `puts`; returns the id of the deepest one. Inside the lock.
   */
  private async ensureDirs(parts: readonly string[], includeLast: boolean, nowMs: number, puts: CatalogRow[]): Promise<number> {
    let dir = ROOT.id;
    const n = includeLast ? parts.length : parts.length - 1;
    let creating = false;
    for (let i = 0; i < n; i++) {
      const name = parts[i]!;
      const e = creating ? null : await this.child(dir, name);
      if (e !== null) {
        if (e.kind !== PathKind.DIRECTORY) {
          const here = joinPath(parts.slice(0, i + 1));
          if (i === parts.length - 1) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${here} is a file; no directory can be made there`);
          throw new PegasusError(ErrorCode.NOT_A_DIRECTORY, `${here} is a file, not a directory`);
        }
        dir = e.id;
        continue;
      }
      creating = true;
      const id = await this.allocateIdLocked();
      puts.push({ key: entryKey(dir, name), value: encodeEntry({ kind: PathKind.DIRECTORY, id, length: 0, mtimeMs: nowMs, ttlMs: 0, cache: false, tierId: null }) });
      dir = id;
    }
    return dir;
  }

  /** allocateId() from inside the lock (which allocateId() would wait for). */
  private async allocateIdLocked(): Promise<number> {
    if (this.nextId >= this.reservedUpTo) {
      const upTo = this.nextId + OBJECT_IDS_PER_RESERVATION;
      await this.catalog.writeRows(TENANT, [{ key: counterKey(), value: encodeCounter(upTo) }], [], true);
      this.reservedUpTo = upTo;
    }
    return this.nextId++;
  }

  /** Creates the directory `parts` and its missing parents; fine if it exists. */
  mkdirs(parts: readonly string[], nowMs: number): Promise<void> {
    return this.locked(async () => {
      const puts: CatalogRow[] = [];
      await this.ensureDirs(parts, true, nowMs, puts);
      await this.catalog.writeRows(TENANT, puts, [], this.sync);
    });
  }

  /**
   * Makes a written file visible at `parts` (creating missing parents), in one
   * batch that also drops its pending row. With `overwrite`, a file already
   * there is replaced and returned for reclaim; a directory there is
   * IS_A_DIRECTORY, a file without `overwrite` ALREADY_EXISTS.
   */
  commitFile(parts: readonly string[], entry: Entry, overwrite: boolean, nowMs: number): Promise<Reclaim | null> {
    return this.locked(async () => {
      const puts: CatalogRow[] = [];
      const parent = await this.ensureDirs(parts, false, nowMs, puts);
      const name = parts[parts.length - 1]!;
      const existing = puts.length > 0 ? null : await this.child(parent, name);
      let replaced: Reclaim | null = null;
      if (existing !== null) {
        if (existing.kind === PathKind.DIRECTORY) throw new PegasusError(ErrorCode.IS_A_DIRECTORY, `${joinPath(parts)} is a directory`);
        if (!overwrite) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${joinPath(parts)} already exists`);
        replaced = { id: existing.id, state: PendingState.DELETING_FILE };
        puts.push({ key: pendingKey(existing.id), value: encodePending(PendingState.DELETING_FILE) });
      }
      puts.push({ key: entryKey(parent, name), value: encodeEntry(entry) });
      await this.catalog.writeRows(TENANT, puts, [pendingKey(entry.id)], this.sync);
      return replaced;
    });
  }

  /** Moves `from` (a file, or a directory with everything under it) to `to`, which must not exist. */
  rename(from: readonly string[], to: readonly string[]): Promise<void> {
    return this.locked(async () => {
      if (from.length === 0) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'the root directory cannot be renamed');
      if (to.length === 0) throw new PegasusError(ErrorCode.ALREADY_EXISTS, 'cannot rename onto the root directory');
      const fromParent = await this.parentOf(from);
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
      if (fromKey.equals(toKey)) return; // onto itself: nothing to do
      if ((await this.child(dir.id, name)) !== null) throw new PegasusError(ErrorCode.ALREADY_EXISTS, `${joinPath(to)} already exists`);
      await this.catalog.writeRows(TENANT, [{ key: toKey, value: encodeEntry(src) }], [fromKey], this.sync);
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
      const parent = await this.parentOf(parts);
      if (parent === null) return null;
      const key = entryKey(parent.id, parts[parts.length - 1]!);
      const v = await this.catalog.getRow(TENANT, key);
      if (v === undefined) return null;
      const e = decodeEntry(v);
      if (e.kind === PathKind.DIRECTORY && !recursive) {
        const first = await this.catalog.listRows(TENANT, childrenRange(e.id), 1);
        if (first.length > 0) throw new PegasusError(ErrorCode.DIRECTORY_NOT_EMPTY, `${joinPath(parts)} is a directory with entries; delete it recursively`);
      }
      const state = e.kind === PathKind.DIRECTORY ? PendingState.DELETING_DIR : PendingState.DELETING_FILE;
      await this.catalog.writeRows(TENANT, [{ key: pendingKey(e.id), value: encodePending(state) }], [key], this.sync);
      return { id: e.id, state };
    });
  }

  /**
   * Moves up to `max` entries of a deleted directory `dirId` (no longer
   * reachable) to pending rows, in one batch; returns them (none: the
   * directory is empty and its own pending row may go).
   */
  async detachChildren(dirId: number, max: number): Promise<Reclaim[]> {
    const rows = await this.catalog.listRows(TENANT, childrenRange(dirId), max);
    const out: Reclaim[] = [];
    const puts: CatalogRow[] = [];
    for (const r of rows) {
      const e = decodeEntry(r.value);
      const state = e.kind === PathKind.DIRECTORY ? PendingState.DELETING_DIR : PendingState.DELETING_FILE;
      out.push({ id: e.id, state });
      puts.push({ key: pendingKey(e.id), value: encodePending(state) });
    }
    await this.catalog.writeRows(TENANT, puts, rows.map((r) => r.key), this.sync);
    return out;
  }

  /** Writes the pending row of an object being written (before its first byte). */
  markWriting(id: number): Promise<void> {
    return this.catalog.writeRows(TENANT, [{ key: pendingKey(id), value: encodePending(PendingState.WRITING) }], [], this.sync);
  }

  /** Drops a pending row once what it named is reclaimed. */
  dropPending(id: number): Promise<void> {
    return this.catalog.writeRows(TENANT, [], [pendingKey(id)], this.sync);
  }
}
