// Turns a writer's raw blocks into sealed (compressed, checksummed) blocks and
// hands them on in submission order. Large blocks are compressed on libuv's
// thread pool, so the application keeps producing records while lz4 runs
// (about 1.7x the throughput of compressing on the event loop on two cores);
// small ones are compressed inline because the hop costs more than the work.
//
// Small blocks (many small partitions) are compressed only while that pays:
// see LZ4_SMALL_BLOCK_BYTES. The choice is per block and the codec travels in
// its header, so readers see no difference.
//
// Order matters: a partition's blocks must reach the batch builder in the order
// they were sealed, or a reader would see that partition's records reordered
// (Spark's sorted map outputs depend on it). Results wait at the head of the
// queue until every earlier block is done.
import { crc32c } from '../../native/ts/crc32c.js';
import { toPegasusError, type PegasusError } from '../../schemas/ts/errors.js';
import type { SealedBlock } from './batch-builder.js';
import { compressBlock, compressBlockAsync, type CodecName, type StoredBlock } from './compression.js';
import { Codec } from '../../schemas/ts/messages.js';
import { COMPRESS_ASYNC_BYTES_MIN, COMPRESSIONS_IN_FLIGHT_MAX, LZ4_SMALL_BLOCK_BYTES, LZ4_SMALL_GAIN_DIVISOR, LZ4_SMALL_SKIP_BLOCKS } from './limits.js';

interface Entry {
  partition: number;
  raw: Buffer;
  result: SealedBlock | undefined;
}

export class BlockCompressor {
  private readonly codec: CodecName;
  private readonly onBlock: (block: SealedBlock) => void;
  private readonly onError: (err: PegasusError) => void;
  /**
   * Blocks in submission order, done or not, from `head` on. An index, not
   * shift(): sealing 100,000 partitions at once queues 100,000 entries behind
   * one large block still being compressed, and shift() would copy the rest each time.
   */
  private queue: (Entry | undefined)[] = [];
  private head = 0;
  /** Blocks waiting for a compression slot. */
  private readonly toStart: Entry[] = [];
  private running = 0;
  /** Bumped by cancel(); results of an older generation are dropped. */
  private generation = 0;
  private drainWaiters: (() => void)[] = [];
  /** Raw bytes of the blocks held here. */
  bytes = 0;
  /** Small blocks still to store uncompressed since one did not compress. */
  private smallSkips = 0;
  /** Small blocks stored uncompressed without trying LZ4. */
  smallBlocksSkipped = 0;

  constructor(codec: CodecName, onBlock: (block: SealedBlock) => void, onError: (err: PegasusError) => void) {
    this.codec = codec;
    this.onBlock = onBlock;
    this.onError = onError;
  }

  get idle(): boolean {
    return this.head === this.queue.length;
  }

  /** Takes ownership of `raw`, one block's records of `partition`. */
  submit(partition: number, raw: Buffer): void {
    const entry: Entry = { partition, raw, result: undefined };
    this.queue.push(entry);
    this.bytes += raw.length;
    if (this.codec === 'none' || raw.length < COMPRESS_ASYNC_BYTES_MIN) {
      entry.result = seal(partition, raw, this.compressInline(raw));
      this.deliver();
    } else {
      this.toStart.push(entry);
      this.startMore();
    }
  }

  /** Resolves once every submitted block has been handed on. */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Drops every block not yet handed on; waiting drained() calls resolve. */
  cancel(): void {
    this.generation++;
    this.queue = [];
    this.head = 0;
    this.toStart.length = 0;
    this.running = 0;
    this.bytes = 0;
    this.notifyDrained();
  }

  private compressInline(raw: Buffer): StoredBlock {
    if (this.codec === 'none' || raw.length >= LZ4_SMALL_BLOCK_BYTES) return compressBlock(raw, this.codec);
    if (this.smallSkips > 0) {
      this.smallSkips--;
      this.smallBlocksSkipped++;
      return compressBlock(raw, 'none');
    }
    const stored = compressBlock(raw, this.codec);
    const saved = stored.codec === Codec.NONE ? 0 : raw.length - stored.stored.length;
    if (saved * LZ4_SMALL_GAIN_DIVISOR < raw.length) this.smallSkips = LZ4_SMALL_SKIP_BLOCKS;
    return stored;
  }

  private startMore(): void {
    while (this.running < COMPRESSIONS_IN_FLIGHT_MAX && this.toStart.length > 0) {
      const entry = this.toStart.shift()!;
      const generation = this.generation;
      this.running++;
      compressBlockAsync(entry.raw, this.codec).then(
        (stored) => {
          if (generation !== this.generation) return;
          this.running--;
          entry.result = seal(entry.partition, entry.raw, stored);
          this.deliver();
          this.startMore();
        },
        (err: unknown) => {
          if (generation !== this.generation) return;
          this.cancel();
          this.onError(toPegasusError(err));
        },
      );
    }
  }

  private deliver(): void {
    // onBlock may cancel() (the writer failed), which replaces the queue.
    for (let q = this.queue; this.head < q.length && q === this.queue && q[this.head]?.result !== undefined;) {
      const entry = q[this.head]!;
      q[this.head++] = undefined; // let the block's buffers go
      this.bytes -= entry.raw.length;
      this.onBlock(entry.result!);
    }
    if (this.idle) {
      this.queue.length = 0;
      this.head = 0;
      this.notifyDrained();
    }
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}

function seal(partition: number, raw: Buffer, s: StoredBlock): SealedBlock {
  return { partition, rawLength: raw.length, stored: s.stored, codec: s.codec, crc32c: crc32c(s.stored) >>> 0 };
}
