// Rows of the catalog that the engine itself writes (layout: INDEX_FORMAT.md).

/** One run: the blocks of one partition written together into one segment. */
export interface RunEntry {
  partition: number;
  segmentId: number;
  /** Byte offset of the run header in the segment file. */
  offset: number;
  /** Bytes of the run, header included. */
  length: number;
  blockCount: number;
  /** Smallest and largest map id among the run's blocks (for map-range reads). */
  mapMin: number;
  mapMax: number;
  /**
   * CRC32C of the run's bytes as written, run header through the last block's
   * data (so a run fetched whole, e.g. by RDMA, is checked in one pass). Null for
   * runs indexed before run checksums (run value version 1).
   */
  crc32c: number | null;
}

/** How much of a segment file is durable and indexed. Bytes past it are a torn tail. */
export interface SegmentEntry {
  segmentId: number;
  durableBytes: number;
  sealed: boolean;
  /**
   * The storage tier holding the file (engine/tiers.ts: a u32 derived from the
   * tier's path). Null for segments indexed before tiers (segment value version
   * 1): those are in the data directory.
   */
  tierId: number | null;
}
