// What every read transport yields (WebSocket read-stream.ts, UCX ucx-read-stream.ts)
// and counts, declared once so the block check and the transports share it.

/** One verified block of a read: its origin and its raw (decompressed) bytes. */
export interface ReadBlock {
  partition: number;
  mapId: number;
  attempt: number;
  /** Raw bytes: records as `u32le length | bytes` (record-codec.ts). */
  data: Buffer;
}

/** Counters of one stream. */
export interface ReadCounters {
  blocks: number;
  storedBytes: number;
  rawBytes: number;
  creditGrants: number;
}
