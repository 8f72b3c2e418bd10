// How the bytes of one segment file get written and made durable, by tier:
// writev (+ fdatasync when the durability is 'sync') for ordinary tiers,
// memcpy + persist through libpmem2 (native PmemSegment) for pmem tiers. Both
// keep the durability contract of SegmentLog.appendRuns(): write() resolves only
// when its bytes are durable in the log's sense (durability.ts).
//
// A pmem segment file is allocated at its full size when it is created (so a
// store into the mapping can never meet a full file system) and cut to its
// durable length when it is closed; recovery cuts it too (SEGMENT_FORMAT.md,
// "PMem segments").
//
// Thread contract: one write at a time per file (SegmentLog serializes appends).
import { promises as fsp } from 'node:fs';

import { nativeBinding, nativeErrorCode } from '../../../native/ts/index.js';
import type { PmemSegment } from '../../../native/binding.cjs';
import { ErrorCode, PegasusError, ioError } from '../errors.js';
import type { Durability } from './durability.js';
import type { Tier } from './tiers.js';

type FileHandle = fsp.FileHandle;

export interface SegmentFile {
  readonly path: string;
  /** How the file is written: 'file', or the pmem map's store granularity ('BYTE', 'CACHE_LINE', 'PAGE'). */
  readonly writer: string;
  /** Writes `buffers` (`bytes` in all) at `position` and makes them durable. */
  write(buffers: Buffer[], position: number, bytes: number): Promise<void>;
  /** After a failed write: puts the file back to `durableBytes`; false when that failed (the caller seals). */
  rollback(durableBytes: number): Promise<boolean>;
  /** Closes the file, leaving it `durableBytes` long where it can. Never throws: its bytes are durable already. */
  close(durableBytes: number): Promise<void>;
}

/** Makes a directory's entries (new or removed files) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    throw ioError(err, `fsync directory ${dir}`);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** pwritev until every byte is written; libuv may return a short count before reporting an error. */
async function writeAll(fh: FileHandle, buffers: Buffer[], position: number, bytes: number): Promise<void> {
  let pending = buffers;
  let pos = position;
  let left = bytes;
  while (left > 0) {
    const { bytesWritten } = await fh.writev(pending, pos);
    if (bytesWritten <= 0) throw new Error(`writev wrote ${bytesWritten} of ${left} bytes at ${pos}`);
    pos += bytesWritten;
    left -= bytesWritten;
    if (left === 0) break;
    let skip = bytesWritten;
    let i = 0;
    while (skip >= pending[i]!.length) skip -= pending[i++]!.length;
    pending = [pending[i]!.subarray(skip), ...pending.slice(i + 1)];
  }
}

/** A segment written with pwritev + fdatasync; the file is exactly as long as what was written. */
export class PlainSegmentFile implements SegmentFile {
  readonly writer = 'file';

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly durability: Durability) {}

  static async create(path: string, durability: Durability = 'sync'): Promise<PlainSegmentFile> {
    try {
      return new PlainSegmentFile(path, await fsp.open(path, 'wx'), durability);
    } catch (err) {
      throw ioError(err, `create segment ${path}`);
    }
  }

  async write(buffers: Buffer[], position: number, bytes: number): Promise<void> {
    try {
      await writeAll(this.fh, buffers, position, bytes);
      if (this.durability === 'sync') await this.fh.datasync();
    } catch (err) {
      throw ioError(err, `append ${bytes} bytes to segment ${this.path} at ${position}`);
    }
  }

  async rollback(durableBytes: number): Promise<boolean> {
    try {
      await this.fh.truncate(durableBytes);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

function nativeToPegasus(err: unknown, what: string): PegasusError {
  const name = nativeErrorCode(err);
  const code = name === null ? undefined : (ErrorCode as unknown as Record<string, ErrorCode | undefined>)[name];
  const text = err instanceof Error ? err.message : String(err);
  return new PegasusError(code ?? ErrorCode.STORAGE_IO, `${what}: ${text}`, { cause: err });
}

/** A segment of a pmem tier: preallocated, mapped through libpmem2, written by memcpy + persist. */
export class PmemSegmentFile implements SegmentFile {
  private constructor(readonly path: string, private readonly seg: PmemSegment) {}

  get writer(): string {
    return this.seg.granularity;
  }

  /** Creates the file at `allocBytes` (the segment's largest size) and maps it. */
  static async create(path: string, allocBytes: number): Promise<PmemSegmentFile> {
    const native = nativeBinding();
    if (native === null) throw new PegasusError(ErrorCode.INTERNAL, `pmem segment ${path}: native module not loaded`);
    try {
      return new PmemSegmentFile(path, await native.pmemSegmentCreate(path, allocBytes));
    } catch (err) {
      throw nativeToPegasus(err, `create pmem segment ${path} of ${allocBytes} bytes`);
    }
  }

  get mappedBytes(): number {
    return this.seg.mappedBytes;
  }

  async write(buffers: Buffer[], position: number, bytes: number): Promise<void> {
    let written: number;
    try {
      written = await this.seg.write(position, buffers);
    } catch (err) {
      throw nativeToPegasus(err, `append ${bytes} bytes to pmem segment ${this.path} at ${position}`);
    }
    if (written !== bytes) throw new PegasusError(ErrorCode.INTERNAL, `pmem segment ${this.path}: wrote ${written} of ${bytes} bytes`);
  }

  /** Bytes past durableBytes are never indexed and the next write overwrites them; nothing to undo. */
  async rollback(): Promise<boolean> {
    return true;
  }

  async close(durableBytes: number): Promise<void> {
    // A failed cut leaves a preallocated tail that the next open cuts (it is past durableBytes).
    await this.seg.close(durableBytes).catch(() => undefined);
  }
}

/** Creates the file of a new segment on `tier`, sized for `allocBytes` where the writer preallocates. */
export function createSegmentFile(tier: Tier, path: string, allocBytes: number, durability: Durability): Promise<SegmentFile> {
  return tier.writesThroughPmem ? PmemSegmentFile.create(path, allocBytes) : PlainSegmentFile.create(path, durability);
}
