// Shapes shared by the store (segment files) and its callers.
import type { BlockHeader } from '../../../schemas/ts/messages.js';

/** A block held in memory before it is written: its header and stored bytes. */
export interface BufferedBlock {
  header: BlockHeader;
  /**
   * Stored (possibly compressed) bytes; owned by the store once handed over.
   * `header.crc32c` must be their CRC32C, checked by the tenant when it received
   * them: the run CRC is derived from it (segment-log.ts encodeRun).
   */
  data: Buffer;
}

/** The blocks of one partition to be written as one run, in order. */
export interface PendingRun {
  partition: number;
  blocks: BufferedBlock[];
}

/** A block read back from a segment: its header and a view of its stored bytes. */
export interface StoredBlock {
  header: BlockHeader;
  /** View into a read buffer; valid until the next block of the same read is requested. Copy to keep. */
  data: Buffer;
}
