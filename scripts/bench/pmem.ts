// PMem tier write bandwidth against its physical baseline, in one run:
//   pmem: the pmem tier's segment writer (store/segment-file.ts PmemSegmentFile:
//         posix_fallocate + libpmem2 map, memcpy + persist + drain per flush)
//   file: the same buffers with pwritev + fdatasync per flush (PlainSegmentFile,
//         what every other tier does; the baseline is the physical write path)
// Both write the same encoded runs (32 B run header, 48 B block headers, 256 KiB
// blocks) in flushes of 8 MiB into 256 MiB segments, and include segment
// creation. MB/s are 10^6 bytes per second.
//
//   node dist/scripts/bench/pmem.js [DIR] [GiB]      (default: ./data/bench-pmem, 1)
// On an ordinary file system libpmem2 maps with PAGE granularity and persists
// with msync, so the ratio measures msync against fdatasync; on a DAX file system
// (granularity BYTE or CACHE_LINE) it measures cache-line flushes.
import { randomFillSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nativeBinding } from '../../native/ts/index.js';
import { PlainSegmentFile, PmemSegmentFile, type SegmentFile } from '../../shuffle-server/src/engine/segment-file.js';

const MiB = 1024 * 1024;
const BLOCK_BYTES = 256 * 1024;
const FLUSH_BYTES = 8 * MiB;
const SEGMENT_BYTES = 256 * MiB;

/** One flush's buffers: runs of 4 blocks each, headers as the segment log lays them out. */
function flushBuffers(): { buffers: Buffer[]; bytes: number } {
  const data = randomFillSync(Buffer.allocUnsafe(BLOCK_BYTES));
  const buffers: Buffer[] = [];
  let bytes = 0;
  while (bytes + 32 + 4 * (48 + BLOCK_BYTES) <= FLUSH_BYTES) {
    buffers.push(randomFillSync(Buffer.allocUnsafe(32)));
    bytes += 32;
    for (let i = 0; i < 4; i++) {
      buffers.push(randomFillSync(Buffer.allocUnsafe(48)), data);
      bytes += 48 + BLOCK_BYTES;
    }
  }
  return { buffers, bytes };
}

async function writeAll(dir: string, totalBytes: number, create: (path: string) => Promise<SegmentFile>): Promise<{ mbps: number; writer: string }> {
  const { buffers, bytes } = flushBuffers();
  let written = 0;
  let segment = 0;
  let writer = '';
  const start = process.hrtime.bigint();
  while (written < totalBytes) {
    const file = await create(join(dir, `${String(segment++).padStart(20, '0')}.seg`));
    writer = file.writer;
    let pos = 0;
    while (pos + bytes <= SEGMENT_BYTES && written < totalBytes) {
      await file.write(buffers, pos, bytes);
      pos += bytes;
      written += bytes;
    }
    await file.close(pos);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { mbps: written / 1e6 / seconds, writer };
}

/**
 * Writes `totalBytes` of runs through the pmem tier's writer and through plain
 * file writes + fdatasync, under `dir` (removed afterwards); MB/s of each and
 * the store granularity the pmem mapping reported.
 */
export async function benchPmemWrite(dir: string, totalBytes: number): Promise<{ pmemWriteMBps: number; fileWriteMBps: number; granularity: string }> {
  if (nativeBinding() === null) throw new Error('benchPmemWrite needs the native module (run scripts/setup.sh)');
  const root = resolve(dir);
  const pmemDir = join(root, 'pmem');
  const fileDir = join(root, 'file');
  await fsp.mkdir(pmemDir, { recursive: true });
  await fsp.mkdir(fileDir, { recursive: true });
  try {
    // File first, then pmem, then file again: the better of two file runs, so page
    // cache warm-up does not favour the pmem path.
    const file1 = await writeAll(fileDir, totalBytes, (p) => PlainSegmentFile.create(p));
    await fsp.rm(fileDir, { recursive: true, force: true });
    await fsp.mkdir(fileDir);
    const pmem = await writeAll(pmemDir, totalBytes, (p) => PmemSegmentFile.create(p, SEGMENT_BYTES));
    await fsp.rm(pmemDir, { recursive: true, force: true });
    const file2 = await writeAll(fileDir, totalBytes, (p) => PlainSegmentFile.create(p));
    return { pmemWriteMBps: pmem.mbps, fileWriteMBps: Math.max(file1.mbps, file2.mbps), granularity: pmem.writer };
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? './data/bench-pmem';
  const gib = Number(process.argv[3] ?? '1');
  const r = await benchPmemWrite(dir, Math.round(gib * 1024 * MiB));
  process.stdout.write(`${JSON.stringify({ ...r, ratio: r.pmemWriteMBps / r.fileWriteMBps, totalBytes: gib * 1024 * MiB, dir })}\n`);
}
