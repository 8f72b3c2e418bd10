// Per-partition record buffers of one writer: where records wait until their
// partition has a block's worth. Pure (no I/O), so its accounting is tested
// without a socket.
//
// Memory is counted by allocated capacity, not by bytes used, because
// capacity is what the process holds. A buffer starts small and doubles; a
// partition that has filled a block once gets a full block buffer next time,
// so hot partitions skip the doubling copies.
//
// How large a buffer starts depends on how many partitions share the writer's
// buffer memory (initialBufferBytes): with 100 partitions a buffer starts at
// 4 KiB; with 100,000 it starts at an equal share of a few hundred bytes, and
// where the share is smaller than a record, at the record's own size (rounded
// up to PARTITION_BUFFER_ALIGN_BYTES) and doubles from there. So the memory
// bound is reached by records, not by empty capacity, and the blocks the
// writer seals when it is reached carry many records (issue 10: 4 KiB buffers
// for 100,000 partitions filled a 64 MiB bound with one record each).
import { PARTITION_BUFFER_ALIGN_BYTES, PARTITION_BUFFER_BYTES_INITIAL } from './limits.js';
import { RECORD_LENGTH_BYTES, writeRecord } from './record-codec.js';

/**
 * First capacity of a partition buffer when `numPartitions` partitions share
 * `bufferBytesMax`: an equal share, a multiple of PARTITION_BUFFER_ALIGN_BYTES,
 * at most min(PARTITION_BUFFER_BYTES_INITIAL, blockBytes); possibly 0 (a
 * buffer then starts at its first record's size).
 */
export function initialBufferBytes(numPartitions: number, bufferBytesMax: number, blockBytes: number): number {
  const share = Math.floor(bufferBytesMax / numPartitions / PARTITION_BUFFER_ALIGN_BYTES) * PARTITION_BUFFER_ALIGN_BYTES;
  return Math.min(share, PARTITION_BUFFER_BYTES_INITIAL, blockBytes);
}

export class PartitionBuffers {
  readonly numPartitions: number;
  readonly blockBytes: number;
  /** Capacity of a partition's first buffer (a hot partition's is blockBytes). */
  readonly initialBytes: number;
  /** Sum of the capacities of all buffers. */
  bytesAllocated = 0;
  /** Sum of the bytes written into all buffers. */
  bytesUsed = 0;

  private readonly buffers: (Buffer | undefined)[];
  private readonly used: Uint32Array;
  /** 1 once a partition filled a block: its next buffer starts block-sized. */
  private readonly hot: Uint8Array;
  /** Partitions holding a buffer, for relief, and each one's index in it (-1 if none). */
  private readonly active: number[] = [];
  private readonly activeIndex: Int32Array;

  constructor(numPartitions: number, blockBytes: number, initialBytes = Math.min(PARTITION_BUFFER_BYTES_INITIAL, blockBytes)) {
    this.numPartitions = numPartitions;
    this.blockBytes = blockBytes;
    this.initialBytes = Math.min(initialBytes, blockBytes);
    this.buffers = new Array<Buffer | undefined>(numPartitions);
    this.used = new Uint32Array(numPartitions);
    this.hot = new Uint8Array(numPartitions);
    this.activeIndex = new Int32Array(numPartitions).fill(-1);
  }

  /** Bytes written into `partition`'s buffer. */
  usedBytes(partition: number): number {
    return this.used[partition]!;
  }

  /** Number of partitions that hold buffered records. */
  get activeCount(): number {
    return this.active.length;
  }

  /**
   * Appends one record. The caller has already taken the partition's block if
   * the record would not fit beside its contents, so the buffer grows to at
   * most max(blockBytes, the record alone).
   */
  append(partition: number, record: Uint8Array): void {
    const need = RECORD_LENGTH_BYTES + record.length;
    let buf = this.buffers[partition];
    const used = this.used[partition]!;
    if (buf === undefined) {
      const start = this.hot[partition] === 1 ? this.blockBytes : this.initialBytes;
      const fit = Math.ceil(need / PARTITION_BUFFER_ALIGN_BYTES) * PARTITION_BUFFER_ALIGN_BYTES;
      buf = Buffer.allocUnsafe(Math.max(Math.min(fit, Math.max(this.blockBytes, need)), start));
      this.buffers[partition] = buf;
      this.bytesAllocated += buf.length;
      this.activeIndex[partition] = this.active.length;
      this.active.push(partition);
    } else if (used + need > buf.length) {
      const cap = Math.max(used + need, Math.min(buf.length * 2, this.blockBytes));
      const grown = Buffer.allocUnsafe(cap);
      buf.copy(grown, 0, 0, used);
      this.bytesAllocated += cap - buf.length;
      buf = grown;
      this.buffers[partition] = buf;
    }
    writeRecord(buf, used, record);
    this.used[partition] = used + need;
    this.bytesUsed += need;
  }

  /**
   * Removes and returns the records of `partition` as one block's raw bytes
   * (a view of the partition's buffer, which the caller now owns), or
   * undefined if it holds none.
   */
  take(partition: number): Buffer | undefined {
    const buf = this.buffers[partition];
    if (buf === undefined) return undefined;
    const used = this.used[partition]!;
    this.buffers[partition] = undefined;
    this.used[partition] = 0;
    this.bytesAllocated -= buf.length;
    this.bytesUsed -= used;
    if (used >= this.blockBytes) this.hot[partition] = 1;
    // Swap-remove from the active list.
    const at = this.activeIndex[partition]!;
    const last = this.active.pop()!;
    if (last !== partition) {
      this.active[at] = last;
      this.activeIndex[last] = at;
    }
    this.activeIndex[partition] = -1;
    return used === 0 ? undefined : buf.subarray(0, used);
  }

  /** Partitions holding records, in partition order (the order the writer seals them all). */
  activeInOrder(): Int32Array {
    // A typed array sorts numerically and without a comparator call per pair.
    return Int32Array.from(this.active).sort();
  }
}
