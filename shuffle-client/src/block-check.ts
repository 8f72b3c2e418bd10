// The reader's check of one stored block, the same on every transport: its
// CRC32C must match the writer's (CHECKSUM_MISMATCH) and it must decompress to
// exactly its raw length (CORRUPT_DATA, from decompressBlock). Only then is it a
// ReadBlock.
import { crc32c } from '../../native/ts/crc32c.js';
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import type { BlockHeader } from '../../schemas/ts/messages.js';
import { decompressBlock } from './compression.js';
import type { ReadBlock, ReadCounters } from './read-block.js';

export function checkBlock(h: BlockHeader, stored: Buffer, counters: ReadCounters, where: string): ReadBlock {
  const crc = crc32c(stored) >>> 0;
  if (crc !== h.crc32c >>> 0) {
    throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `${where}: block (partition ${h.partition}, map ${h.mapId}, ` +
      `attempt ${h.attempt}, batch ${h.batch}, seq ${h.seq}) has CRC32C ${crc.toString(16)}, header says ${(h.crc32c >>> 0).toString(16)}`);
  }
  const data = decompressBlock(stored, h.codec, h.rawLength);
  counters.blocks++;
  counters.storedBytes += h.storedLength;
  counters.rawBytes += h.rawLength;
  return { partition: h.partition, mapId: h.mapId, attempt: h.attempt, data };
}
