// Where a writer with very many partitions keeps its records (issue 10). A
// buffer per partition costs capacity per partition: with 100,000 partitions
// even a few hundred bytes each fill the memory bound before most partitions
// hold more than a record or two, and the doubling of each buffer leaves a
// third of what is counted empty. The arena instead appends every record, in
// write order, to shared chunks, so the bound counts the records themselves
// (plus a 4-byte partition tag each and the unused tail of full chunks). When
// the writer seals, takeAll() copies the records once, partition by partition,
// into one buffer and hands out each partition's part as its block (split at
// record boundaries into blocks of at most blockBytes), in partition order.
// That copy is the price of counting records instead of buffers: for the
// moment of takeAll() the records exist twice; after it, the chunks are garbage
// and what counts is the blocks, as with the raw bytes of a block once LZ4 has
// compressed it. Pure (no I/O), so its accounting is tested without a socket.
//
// Arena record (the tag and a record as record-codec.ts lays it out in a block):
//   0  u32  partition
//   4  u32  length L
//   8  L    bytes
import { RECORD_LENGTH_BYTES, writeRecord } from './record-codec.js';

const TAG_BYTES = 4;
/** Records up to this size are copied by takeAll() in 4-byte words, longer ones by Buffer.copy (the crossover here: ~400 bytes). */
const WORD_COPY_BYTES_MAX = 256;

/** One partition's records as one block's raw bytes. */
export interface RawBlock {
  partition: number;
  raw: Buffer;
}

export class RecordArena {
  readonly numPartitions: number;
  readonly blockBytes: number;
  /** Size of a chunk (a record larger than that gets a chunk of its own size). */
  readonly chunkBytes: number;
  /** Bytes of the chunks held: what the arena costs. */
  bytesAllocated = 0;
  /** Block bytes of the records held (length prefixes included, tags not). */
  bytesUsed = 0;
  records = 0;

  private chunks: Buffer[] = [];
  /** Bytes written into each chunk. */
  private chunkUsed: number[] = [];
  /** Block bytes held per partition. */
  private readonly bytesOf: Float64Array;
  /** Partitions holding records, in the order they got their first. */
  private touched: number[] = [];
  /** Scratch of takeAll(): where each partition's next record goes. */
  private readonly cursor: Float64Array;

  constructor(numPartitions: number, blockBytes: number, chunkBytes: number) {
    this.numPartitions = numPartitions;
    this.blockBytes = blockBytes;
    this.chunkBytes = chunkBytes;
    this.bytesOf = new Float64Array(numPartitions);
    this.cursor = new Float64Array(numPartitions);
  }

  /** Block bytes `partition` holds. */
  usedBytes(partition: number): number {
    return this.bytesOf[partition]!;
  }

  /** Number of partitions holding records. */
  get activeCount(): number {
    return this.touched.length;
  }

  /** Appends one record; the caller has checked the partition and the record's size. */
  append(partition: number, record: Uint8Array): void {
    const need = TAG_BYTES + RECORD_LENGTH_BYTES + record.length;
    let last = this.chunks.length - 1;
    if (last < 0 || this.chunkUsed[last]! + need > this.chunks[last]!.length) {
      const chunk = Buffer.allocUnsafeSlow(Math.max(this.chunkBytes, need));
      this.chunks.push(chunk);
      this.chunkUsed.push(0);
      this.bytesAllocated += chunk.length;
      last++;
    }
    const chunk = this.chunks[last]!;
    const at = this.chunkUsed[last]!;
    chunk.writeUInt32LE(partition, at);
    writeRecord(chunk, at + TAG_BYTES, record);
    this.chunkUsed[last] = at + need;
    const encoded = need - TAG_BYTES;
    if (this.bytesOf[partition] === 0) this.touched.push(partition);
    this.bytesOf[partition] = this.bytesOf[partition]! + encoded;
    this.bytesUsed += encoded;
    this.records++;
  }

  /**
   * Removes every record and returns them as blocks: partitions in order, each
   * partition's records in write order, cut at record boundaries into blocks
   * of at most blockBytes (a larger record is a block of its own). The blocks
   * are views of one new buffer, which the caller owns.
   */
  takeAll(): RawBlock[] {
    const order = Int32Array.from(this.touched).sort();
    const out = Buffer.allocUnsafe(this.bytesUsed);
    let pos = 0;
    for (const p of order) {
      this.cursor[p] = pos;
      pos += this.bytesOf[p]!;
    }
    const outView = new DataView(out.buffer, out.byteOffset, out.length);
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
      const end = this.chunkUsed[c]!;
      for (let at = 0; at < end;) {
        const p = view.getUint32(at, true);
        const len = view.getUint32(at + TAG_BYTES, true);
        const from = at + TAG_BYTES;
        const bytes = RECORD_LENGTH_BYTES + len;
        const to = this.cursor[p]!;
        if (bytes <= WORD_COPY_BYTES_MAX) {
          // Four bytes a step: per record, Buffer.copy's call costs more than
          // the copy (measured: 2.7 M records of 108 bytes, 0.58 s against 0.19 s).
          let i = 0;
          for (; i + 4 <= bytes; i += 4) outView.setInt32(to + i, view.getInt32(from + i, true), true);
          for (; i < bytes; i++) out[to + i] = chunk[from + i]!;
        } else {
          chunk.copy(out, to, from, from + bytes);
        }
        this.cursor[p] = to + bytes;
        at = from + bytes;
      }
    }
    const blocks: RawBlock[] = [];
    for (const p of order) {
      const end = this.cursor[p]!;
      const start = end - this.bytesOf[p]!;
      if (end - start <= this.blockBytes) {
        blocks.push({ partition: p, raw: out.subarray(start, end) });
      } else {
        this.split(p, out, start, end, blocks);
      }
      this.bytesOf[p] = 0;
    }
    this.chunks = [];
    this.chunkUsed = [];
    this.touched = [];
    this.bytesAllocated = 0;
    this.bytesUsed = 0;
    this.records = 0;
    return blocks;
  }

  /** Cuts one partition's records [start, end) of `out` into blocks of at most blockBytes. */
  private split(partition: number, out: Buffer, start: number, end: number, blocks: RawBlock[]): void {
    let blockStart = start;
    for (let at = start; at < end;) {
      const next = at + RECORD_LENGTH_BYTES + out.readUInt32LE(at);
      if (next - blockStart > this.blockBytes && at > blockStart) {
        blocks.push({ partition, raw: out.subarray(blockStart, at) });
        blockStart = at;
      }
      at = next;
    }
    blocks.push({ partition, raw: out.subarray(blockStart, end) });
  }
}
