// Recovery of one log's segment files at open (SEGMENT_FORMAT.md, Recovery):
// the index is the truth; files are cut to it over every configured tier.
// Unindexed files are deleted, torn tails cut, and anything the index promises
// but the files do not hold is CORRUPT_DATA.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import type { SegmentEntry } from './catalog/types.js';
import { logName, type LogId } from './log-id.js';
import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';
import { corruptAt } from './run-reader.js';
import { RUN_HEADER_BYTES, SEGMENT_HEADER_BYTES, decodeRunHeader, decodeSegmentHeader } from './segment-format.js';
import { fsyncDir } from './segment-file.js';
import { logDir, parseSegmentFileName, segmentFileName } from './segment-names.js';
import type { Tier, TierSet } from './tiers.js';

type FileHandle = fsp.FileHandle;

export interface RecoveredSegments {
  /** Every indexed segment with its tier; each file exists, is valid and is cut to durableBytes. */
  indexed: Array<{ entry: SegmentEntry; tier: Tier }>;
  /** Bytes cut off torn tails. */
  tornBytes: number;
  /** Unindexed segment files deleted. */
  deleted: number;
  /** Ids of the tiers on which the log's directory exists. */
  ready: Set<number>;
}

/** Recovers the segment files of one log on every tier against its indexed rows. */
export async function recoverSegments(tiers: TierSet, log: LogId, known: SegmentEntry[]): Promise<RecoveredSegments> {
  const name = logName(log);
  const byId = new Map<number, { entry: SegmentEntry; tier: Tier }>();
  for (const e of known) {
    if (byId.has(e.segmentId)) assert.fail(`segment ${e.segmentId} listed twice for ${name}`);
    const tier = tiers.require(e.tierId, `segment ${e.segmentId} of ${name} (${e.durableBytes} durable bytes)`);
    byId.set(e.segmentId, { entry: e, tier });
  }

  let tornBytes = 0;
  let deleted = 0;
  const found = new Set<number>();
  const ready = new Set<number>();
  for (const tier of tiers.tiers) {
    const dir = logDir(tier.path, log);
    let names: string[];
    try {
      names = await fsp.readdir(dir);
      ready.add(tier.id);
    } catch (err) {
      if (isNotFound(err)) continue; // nothing of this log on this tier
      throw ioError(err, `list log directory ${dir} of tier ${tier.label}`);
    }
    let deletedHere = 0;
    for (const name of names) {
      const id = parseSegmentFileName(name);
      if (id === null) continue; // not ours: leave foreign files alone
      const path = join(dir, name);
      const indexed = byId.get(id);
      if (indexed === undefined) {
        // Never indexed, so never durable: a flush that crashed before its index write.
        try {
          await fsp.rm(path, { force: true });
        } catch (err) {
          throw ioError(err, `delete unindexed segment ${path}`);
        }
        deletedHere++;
        continue;
      }
      if (indexed.tier !== tier) {
        // Indexed on another tier: not ours to delete (an operator may have moved
        // files), and not what the index points at.
        throw new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path} is on tier ${tier.label} but indexed on tier ${indexed.tier.label}`);
      }
      found.add(id);
      tornBytes += await recoverSegment(path, indexed.entry, log.id, tier);
    }
    if (deletedHere > 0) await fsyncDir(dir);
    deleted += deletedHere;
  }
  for (const { entry, tier } of byId.values()) {
    if (!found.has(entry.segmentId)) {
      throw new PegasusError(
        ErrorCode.CORRUPT_DATA,
        `segment ${join(logDir(tier.path, log), segmentFileName(entry.segmentId))} on tier ${tier.label} is indexed with ${entry.durableBytes} durable bytes but its file is missing`,
      );
    }
  }
  return { indexed: [...byId.values()], tornBytes, deleted, ready };
}

/**
 * Validates an indexed segment file and cuts it to durableBytes; returns the torn
 * bytes cut (for a pmem tier's preallocated file, only the runs written past
 * durableBytes, not the preallocated zeros: see tornRunBytes).
 */
async function recoverSegment(path: string, entry: SegmentEntry, logId: number, tier: Tier): Promise<number> {
  if (!Number.isSafeInteger(entry.durableBytes) || entry.durableBytes < SEGMENT_HEADER_BYTES) {
    throw new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path}: indexed durable bytes ${entry.durableBytes} < header ${SEGMENT_HEADER_BYTES}`);
  }
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(path, 'r+');
    const { size } = await fh.stat();
    if (size < entry.durableBytes) {
      throw new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path}: file has ${size} bytes, index says ${entry.durableBytes} are durable`);
    }
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, SEGMENT_HEADER_BYTES, 0);
    let header;
    try {
      if (bytesRead !== SEGMENT_HEADER_BYTES) throw new Error(`read ${bytesRead} header bytes`);
      header = decodeSegmentHeader(head, 0);
    } catch (err) {
      throw corruptAt(path, 0, err);
    }
    if (header.segmentId !== entry.segmentId || header.logId !== logId) {
      throw corruptAt(path, 0, new Error(`header names segment ${header.segmentId} of log ${header.logId}, expected ${entry.segmentId} of ${logId}`));
    }
    if (size === entry.durableBytes) return 0;
    const torn = tier.kind === 'pmem' ? await tornRunBytes(fh, entry.durableBytes, size) : size - entry.durableBytes;
    await fh.truncate(entry.durableBytes);
    await fh.datasync();
    return torn;
  } catch (err) {
    throw ioError(err, `recover segment ${path}`);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * The bytes of runs written past `from` in a preallocated file: run headers back
 * to back, each counted with the run it announces (clipped to the file); a
 * non-zero header that fails its checks counts as its own bytes and ends the
 * walk; all-zero bytes (never written) end it.
 */
async function tornRunBytes(fh: FileHandle, from: number, size: number): Promise<number> {
  const head = Buffer.alloc(RUN_HEADER_BYTES);
  let pos = from;
  let torn = 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(head, 0, RUN_HEADER_BYTES, pos);
    const got = head.subarray(0, bytesRead);
    if (got.every((b) => b === 0)) break;
    let runBytes: number;
    try {
      if (bytesRead < RUN_HEADER_BYTES) throw new Error('short');
      runBytes = decodeRunHeader(head, 0).runBytes;
    } catch {
      torn += bytesRead;
      break;
    }
    torn += Math.min(runBytes, size - pos);
    pos += runBytes;
  }
  return torn;
}
