// Re-reads stored runs through the run reader (which checks every header) and
// checks each block's data CRC32C and, where the catalog row has one, the run's
// CRC32C. Problems go to a sink (CORRUPT_DATA, CHECKSUM_MISMATCH, NOT_FOUND,
// STORAGE_IO) and the check goes on with the next run. One run at a time, one
// read chunk in memory.
import { crc32c } from '../../../native/ts/crc32c.js';
import { ErrorCode, PegasusError, toPegasusError } from '../errors.js';
import type { RunEntry } from './catalog/types.js';
import { logName } from './log-id.js';
import type { SegmentLog } from './segment-log.js';

/** What a verify found. */
export interface VerifyCounts {
  runs: number;
  blocks: number;
  bytes: number;
}

/** Receives the problems a verify finds; it goes on after each. */
export type VerifyErrorSink = (err: PegasusError) => void;

/** Verifies one run of `log`; adds to `counts`; quiet when the log is removed meanwhile. */
export async function verifyRun(log: SegmentLog, run: RunEntry, chunkBytes: number, counts: VerifyCounts, sink: VerifyErrorSink): Promise<void> {
  const where = `log ${logName(log.id)} partition ${run.partition} run at segment ${run.segmentId} offset ${run.offset} (${run.length} bytes)`;
  let blockErrors = 0;
  let seq = 0;
  try {
    for await (const block of log.readRun(run, chunkBytes, { checkRunCrc: true })) {
      const h = block.header;
      const actual = crc32c(block.data);
      if (actual !== h.crc32c) {
        blockErrors++;
        sink(new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `${where}: block ${seq} (map ${h.mapId} attempt ${h.attempt} batch ${h.batch} seq ${h.seq}, ${block.data.length} bytes) has CRC32C ${actual.toString(16)}, its header says ${h.crc32c.toString(16)}`));
      }
      counts.blocks++;
      counts.bytes += block.data.length;
      seq++;
    }
  } catch (err) {
    if (log.isRemoved) return;
    const e = toPegasusError(err, ErrorCode.STORAGE_IO);
    // The run's CRC is checked after its last block; a block error already explains a mismatch.
    if (e.wireCode === ErrorCode.CHECKSUM_MISMATCH && blockErrors > 0) return;
    sink(new PegasusError(e.wireCode, `${where}: ${e.message}`, { cause: err }));
  } finally {
    counts.runs++;
  }
}
