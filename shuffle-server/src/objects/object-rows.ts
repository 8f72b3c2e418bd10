// The objects tenant's catalog rows: directory entries, pending objects and
// the id counter. Layout and rules: OBJECT_ROWS.md (beside this file). Values
// are versioned and checked on read; anything else is CORRUPT_DATA.
import { PathKind } from '../../../schemas/ts/messages.js';
import { prefixEnd, readU64BE, readU64LE, writeU64BE, writeU64LE, type KeyRange } from '../engine/catalog/catalog-keys.js';
import type { LogId } from '../engine/log-id.js';
import { tenantLayout } from '../engine/tenants.js';
import { ErrorCode, PegasusError } from '../errors.js';

export const OBJECTS_TENANT = tenantLayout('objects');
const [DENTRY_TAG, PENDING_TAG, COUNTER_TAG, EXPIRY_TAG, QUOTA_TAG, INLINE_TAG] = OBJECTS_TENANT.tags.rows as [number, number, number, number, number, number];

/** The root directory's id; it has no entry of its own. */
export const ROOT_ID = 1;
/** The first id handed to an object or directory. */
export const FIRST_ID = 2;
/** Object ids per owner (log bucket) on disk. */
const IDS_PER_OWNER = 65_536;

const ENTRY_VERSION = 1;
const ENTRY_BYTES = 40;
const PENDING_VERSION = 1;
const PENDING_BYTES = 2;
const COUNTER_VERSION = 1;
const COUNTER_BYTES = 9;
const EXPIRY_VERSION = 1;
const QUOTA_VERSION = 1;
const QUOTA_BYTES = 17;
const FLAG_CACHE = 1;
const FLAG_TIER = 2;
const FLAG_INLINE = 4;
const INLINE_VERSION = 1;

function corrupt(what: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, `objects index: ${what}`);
}

/** What a directory entry says of its child. */
export interface Entry {
  kind: PathKind;
  id: number;
  /** Bytes of a file (0 for a directory). */
  length: number;
  mtimeMs: number;
  ttlMs: number;
  cache: boolean;
  /** Tier id (engine/tiers.ts) of the file's first segment; null for directories and empty files. */
  tierId: number | null;
  /** The file's bytes are in its inline row of the index, not in a segment log. */
  inline?: boolean;
}

/** Why an object's bytes are kept without a visible entry. */
export enum PendingState {
  /** Being written; removed at restart if the server stopped before the close. */
  WRITING = 1,
  /** A deleted or replaced file whose bytes are being reclaimed. */
  DELETING_FILE = 2,
  /** A deleted directory whose entries are being reclaimed. */
  DELETING_DIR = 3,
}

/** The segment log holding an object's bytes. */
export function objectLog(id: number): LogId {
  return { tenant: 'objects', owner: `b${Math.floor(id / IDS_PER_OWNER)}`, id: id % IDS_PER_OWNER };
}

/** The object id of a log of this tenant (the inverse of objectLog), or null for a name it never makes. */
export function objectIdOf(log: LogId): number | null {
  const m = /^b(0|[1-9][0-9]{0,10})$/.exec(log.owner);
  if (m === null || log.id >= IDS_PER_OWNER) return null;
  return Number(m[1]) * IDS_PER_OWNER + log.id;
}

// ---------------------------------------------------------------------------
// Directory entries: DENTRY_TAG parent:u64be name (UTF-8)

export function entryKey(parent: number, name: string): Buffer {
  const n = Buffer.byteLength(name, 'utf8');
  const key = Buffer.allocUnsafe(9 + n);
  key[0] = DENTRY_TAG;
  writeU64BE(key, parent, 1);
  key.write(name, 9, 'utf8');
  return key;
}

/** Every entry of directory `parent`, in name order. */
export function childrenRange(parent: number): KeyRange {
  const prefix = Buffer.allocUnsafe(9);
  prefix[0] = DENTRY_TAG;
  writeU64BE(prefix, parent, 1);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** Whether a key is a directory entry's. */
export function isEntryKey(key: Buffer): boolean {
  return key.length > 9 && key[0] === DENTRY_TAG;
}

/** Every directory entry of the namespace. */
export function entriesRange(): KeyRange {
  const prefix = Buffer.of(DENTRY_TAG);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** The entries of `parent` after `name` (all of them for ''). */
export function childrenAfter(parent: number, name: string): KeyRange {
  const range = childrenRange(parent);
  if (name === '') return range;
  const after = entryKey(parent, name);
  // The smallest key greater than `after`: itself with a 0x00 byte appended.
  return { gte: Buffer.concat([after, Buffer.of(0)]), lt: range.lt };
}

/** The name of an entry key. */
export function entryName(key: Buffer): string {
  if (key.length < 10 || key[0] !== DENTRY_TAG) throw corrupt(`entry key of ${key.length} bytes`);
  return key.toString('utf8', 9);
}

export function encodeEntry(e: Entry): Buffer {
  const v = Buffer.alloc(ENTRY_BYTES);
  v[0] = ENTRY_VERSION;
  v[1] = e.kind;
  v[2] = (e.cache ? FLAG_CACHE : 0) | (e.tierId !== null ? FLAG_TIER : 0) | (e.inline === true ? FLAG_INLINE : 0);
  writeU64LE(v, e.id, 4);
  writeU64LE(v, e.length, 12);
  writeU64LE(v, e.mtimeMs, 20);
  writeU64LE(v, e.ttlMs, 28);
  v.writeUInt32LE(e.tierId ?? 0, 36);
  return v;
}

export function decodeEntry(v: Buffer): Entry {
  if (v.length !== ENTRY_BYTES || v[0] !== ENTRY_VERSION) throw corrupt(`entry value of ${v.length} bytes, version ${v[0]}`);
  const kind = v[1]!;
  if (kind !== PathKind.FILE && kind !== PathKind.DIRECTORY) throw corrupt(`entry kind ${kind}`);
  const flags = v[2]!;
  if ((flags & ~(FLAG_CACHE | FLAG_TIER | FLAG_INLINE)) !== 0 || v[3] !== 0) throw corrupt(`entry flags ${flags}`);
  if ((flags & FLAG_INLINE) !== 0 && (kind !== PathKind.FILE || (flags & FLAG_TIER) !== 0)) throw corrupt(`entry flags ${flags} for kind ${kind}`);
  const id = readU64LE(v, 4);
  if (id < FIRST_ID) throw corrupt(`entry id ${id}`);
  return {
    kind: kind as PathKind, id, length: readU64LE(v, 12), mtimeMs: readU64LE(v, 20), ttlMs: readU64LE(v, 28),
    cache: (flags & FLAG_CACHE) !== 0, tierId: (flags & FLAG_TIER) !== 0 ? v.readUInt32LE(36) : null, inline: (flags & FLAG_INLINE) !== 0,
  };
}

// ---------------------------------------------------------------------------
// Pending objects: PENDING_TAG id:u64be

export function pendingKey(id: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = PENDING_TAG;
  writeU64BE(key, id, 1);
  return key;
}

export function pendingRange(): KeyRange {
  const prefix = Buffer.of(PENDING_TAG);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

export function pendingIdOf(key: Buffer): number {
  if (key.length !== 9 || key[0] !== PENDING_TAG) throw corrupt(`pending key of ${key.length} bytes`);
  return readU64BE(key, 1);
}

export function encodePending(state: PendingState): Buffer {
  return Buffer.of(PENDING_VERSION, state);
}

export function decodePending(v: Buffer): PendingState {
  if (v.length !== PENDING_BYTES || v[0] !== PENDING_VERSION) throw corrupt(`pending value of ${v.length} bytes, version ${v[0]}`);
  const state = v[1]!;
  if (state !== PendingState.WRITING && state !== PendingState.DELETING_FILE && state !== PendingState.DELETING_DIR) throw corrupt(`pending state ${state}`);
  return state as PendingState;
}

// ---------------------------------------------------------------------------
// The id counter: COUNTER_TAG -> the first id not yet reserved

export function counterKey(): Buffer {
  return Buffer.of(COUNTER_TAG);
}

export function encodeCounter(nextUnreserved: number): Buffer {
  const v = Buffer.alloc(COUNTER_BYTES);
  v[0] = COUNTER_VERSION;
  writeU64LE(v, nextUnreserved, 1);
  return v;
}

export function decodeCounter(v: Buffer): number {
  if (v.length !== COUNTER_BYTES || v[0] !== COUNTER_VERSION) throw corrupt(`counter value of ${v.length} bytes, version ${v[0]}`);
  const n = readU64LE(v, 1);
  if (n < FIRST_ID) throw corrupt(`counter ${n}`);
  return n;
}

// ---------------------------------------------------------------------------
// Expiry times of files with a TTL: EXPIRY_TAG expiresAtMs:u64be id:u64be -> parent:u64le topBytes:u16le top name

export function expiryKey(expiresAtMs: number, id: number): Buffer {
  const key = Buffer.allocUnsafe(17);
  key[0] = EXPIRY_TAG;
  writeU64BE(key, expiresAtMs, 1);
  writeU64BE(key, id, 9);
  return key;
}

/** Expiry rows of files expired at `nowMs` (expiry time at or before it), oldest first. */
export function expiredRange(nowMs: number): KeyRange {
  const prefix = Buffer.of(EXPIRY_TAG);
  const end = Buffer.allocUnsafe(9);
  end[0] = EXPIRY_TAG;
  writeU64BE(end, nowMs + 1, 1);
  return { gte: prefix, lt: end };
}

export function decodeExpiryKey(key: Buffer): { expiresAtMs: number; id: number } {
  if (key.length !== 17 || key[0] !== EXPIRY_TAG) throw corrupt(`expiry key of ${key.length} bytes`);
  return { expiresAtMs: readU64BE(key, 1), id: readU64BE(key, 9) };
}

/** Where the entry of an expiring file is (its parent's id and its name), and its top-level directory. */
export interface ExpiryPlace {
  parent: number;
  top: string;
  name: string;
}

export function encodeExpiryValue(p: ExpiryPlace): Buffer {
  const top = Buffer.from(p.top, 'utf8');
  const name = Buffer.from(p.name, 'utf8');
  const v = Buffer.allocUnsafe(11 + top.length + name.length);
  v[0] = EXPIRY_VERSION;
  writeU64LE(v, p.parent, 1);
  v.writeUInt16LE(top.length, 9);
  top.copy(v, 11);
  name.copy(v, 11 + top.length);
  return v;
}

export function decodeExpiryValue(v: Buffer): ExpiryPlace {
  if (v.length < 12 || v[0] !== EXPIRY_VERSION) throw corrupt(`expiry value of ${v.length} bytes, version ${v[0]}`);
  const topBytes = v.readUInt16LE(9);
  if (11 + topBytes >= v.length) throw corrupt(`expiry value of ${v.length} bytes with a top-level name of ${topBytes}`);
  return { parent: readU64LE(v, 1), top: v.toString('utf8', 11, 11 + topBytes), name: v.toString('utf8', 11 + topBytes) };
}

// ---------------------------------------------------------------------------
// Quotas: QUOTA_TAG top-level name -> bytesMax:u64 objectsMax:u64 (0: no limit)

export interface Quota {
  bytesMax: number;
  objectsMax: number;
}

export function quotaKey(top: string): Buffer {
  return Buffer.concat([Buffer.of(QUOTA_TAG), Buffer.from(top, 'utf8')]);
}

export function quotaRange(): KeyRange {
  const prefix = Buffer.of(QUOTA_TAG);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

export function quotaTopOf(key: Buffer): string {
  if (key.length < 2 || key[0] !== QUOTA_TAG) throw corrupt(`quota key of ${key.length} bytes`);
  return key.toString('utf8', 1);
}

export function encodeQuota(q: Quota): Buffer {
  const v = Buffer.alloc(QUOTA_BYTES);
  v[0] = QUOTA_VERSION;
  writeU64LE(v, q.bytesMax, 1);
  writeU64LE(v, q.objectsMax, 9);
  return v;
}

export function decodeQuota(v: Buffer): Quota {
  if (v.length !== QUOTA_BYTES || v[0] !== QUOTA_VERSION) throw corrupt(`quota value of ${v.length} bytes, version ${v[0]}`);
  return { bytesMax: readU64LE(v, 1), objectsMax: readU64LE(v, 9) };
}

// ---------------------------------------------------------------------------
// Inline bytes of small files: INLINE_TAG id:u64be -> version crc32c:u32 bytes

export function inlineKey(id: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = INLINE_TAG;
  writeU64BE(key, id, 1);
  return key;
}

export function encodeInline(bytes: Buffer, crc: number): Buffer {
  const v = Buffer.allocUnsafe(5 + bytes.length);
  v[0] = INLINE_VERSION;
  v.writeUInt32LE(crc, 1);
  bytes.copy(v, 5);
  return v;
}

export function decodeInline(v: Buffer): { crc32c: number; bytes: Buffer } {
  if (v.length < 5 || v[0] !== INLINE_VERSION) throw corrupt(`inline value of ${v.length} bytes, version ${v[0]}`);
  return { crc32c: v.readUInt32LE(1), bytes: v.subarray(5) };
}
