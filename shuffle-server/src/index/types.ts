// Entries of the LevelDB index (layout: index/INDEX_FORMAT.md).

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
}

/** The winning attempt of one map. */
export interface CommitEntry {
  mapId: number;
  attempt: number;
  batchCount: number;
}

export interface ShuffleEntry {
  appId: string;
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
  createdAtMs: number;
}

/** How much of a segment file is durable and indexed. Bytes past it are a torn tail. */
export interface SegmentEntry {
  segmentId: number;
  durableBytes: number;
  sealed: boolean;
}
