// ShuffleWriter: the output of one map attempt, pushed to one server.
//
// Data path (all bounded by memoryBytesMax, counted in one place, memoryBytes()):
//
//   write(partition, record)
//     -> PartitionBuffers      records per partition, `u32le length | bytes`,
//        or RecordArena        with very many partitions: records of all, in write order
//     -> BlockCompressor       at blockBytes: lz4 off the event loop + CRC32C
//     -> BatchBuilder          blocks -> one PushBlocks of batchBytes
//     -> BatchPusher           window of pushes, kept until acked, retried
//   close() -> flush everything, wait for every ack, CommitMap{batch_count}
//
// write() is synchronous in the common case and returns a promise only when
// the writer is over its memory bound and must wait for acks: no await per
// record.
//
// Many small partitions (issue 10): the records may fill
// PARTITION_BUFFERS_SHARE_OF_MEMORY of the bound. With few partitions they wait
// in a buffer per partition, which becomes a block when it holds blockBytes;
// buffers start at an equal share of that memory (partition-buffers.ts). With
// so many partitions that their first buffers alone would exceed the share
// (64 MiB: above 12,288), they wait in one arena counted by the records
// themselves (record-arena.ts). When the buffers or the arena fill the share,
// every partition's records become a block at once, in partition order, and
// the batch builder packs those blocks, many partitions to a push, into full
// pushes. So a block carries about share / numPartitions bytes, as many
// records as the bound allows, and pushes stay batchBytes large however many
// partitions there are. When the whole writer is over the bound, the open
// batch is pushed and write() waits for acks, so memory drains instead of
// deadlocking.
//
// Records larger than recordBytesMax (BLOCK_BYTES_MAX - 4, or less if the
// server's frame bound is smaller) are refused with INVALID_ARGUMENT: a block
// never splits a record and a block must fit one frame.
import { ErrorCode, PegasusError, toPegasusError } from '../../schemas/ts/errors.js';
import { checkAppId } from '../../schemas/ts/ids.js';
import { BATCHES_PER_ATTEMPT_MAX, PARTITIONS_PER_SHUFFLE_MAX } from '../../schemas/ts/limits.js';
import type { CommitMap } from '../../schemas/ts/messages.js';
import { checkInt, U32_MAX } from './argument-checks.js';
import { BatchBuilder, blockBytesFitting, type SealedBlock } from './batch-builder.js';
import { BatchPusher, type PushCounters } from './batch-pusher.js';
import { BlockCompressor } from './block-compressor.js';
import type { CodecName } from './compression.js';
import type { Connection } from './connection.js';
import {
  BATCH_BYTES_DEFAULT, BATCH_BYTES_MAX, BATCH_BYTES_MIN, BLOCK_BYTES_DEFAULT, BLOCK_BYTES_MIN, COMMIT_TIMEOUT_MS_DEFAULT,
  ARENA_CHUNK_BYTES_MAX, ARENA_CHUNKS_PER_SHARE, PARTITION_BUFFER_BYTES_INITIAL, PARTITION_BUFFERS_SHARE_OF_MEMORY, PUSH_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_MAX, RETRIES_MAX, RETRIES_MAX_DEFAULT, WRITER_MEMORY_BYTES_DEFAULT,
  WRITER_MEMORY_BYTES_MIN,
} from './limits.js';
import { PartitionBuffers, initialBufferBytes } from './partition-buffers.js';
import { RecordArena } from './record-arena.js';
import { RECORD_LENGTH_BYTES, RECORD_BYTES_MAX } from './record-codec.js';

export interface WriterOptions {
  /** 'lz4' (default) or 'none'. */
  codec?: CodecName;
  /** Raw bytes at which a partition's records become a block. Default 256 KiB. */
  blockBytes?: number;
  /** Stored bytes at which a batch is pushed. Default 1 MiB. */
  batchBytes?: number;
  /** Bound on everything the writer holds. Default 64 MiB. */
  memoryBytesMax?: number;
  /** Reconnects in a row without progress before giving up. Default 5. */
  maxRetries?: number;
  /** Answer timeout of one push. Default 120 s. */
  pushTimeoutMs?: number;
  /** Answer timeout of the commit. Default 60 s. */
  commitTimeoutMs?: number;
}

export interface ShuffleWriterInit {
  connection: Connection;
  appId: string;
  shuffleId: number;
  mapId: number;
  attempt: number;
  numPartitions: number;
  options?: WriterOptions;
}

export interface CommitResult {
  /** True if this attempt's output is the one readers see. */
  won: boolean;
  /** The attempt that won (this one if `won`). */
  winnerAttempt: number;
  /** Stored (compressed) bytes pushed, over all partitions. */
  bytesWritten: number;
  /** Raw bytes pushed (records with their length prefixes). */
  rawBytesWritten: number;
  records: number;
  blocks: number;
  batches: number;
  /** Stored bytes per partition, indexed by partition. */
  partitionLengths: number[];
}

type State = 'open' | 'closing' | 'closed' | 'failed' | 'aborted';


export class ShuffleWriter {
  readonly appId: string;
  readonly shuffleId: number;
  readonly mapId: number;
  readonly attempt: number;
  readonly numPartitions: number;
  readonly blockBytes: number;
  readonly batchBytes: number;
  readonly memoryBytesMax: number;
  /** Capacity the partition buffers may fill before all of them become blocks. */
  readonly bufferBytesMax: number;
  /** Largest record write() accepts. */
  readonly recordBytesMax: number;

  /** Per-partition buffers, or null when the records go to `arena` (very many partitions). */
  private readonly buffers: PartitionBuffers | null;
  private readonly arena: RecordArena | null;
  private readonly compressor: BlockCompressor;
  private readonly builder: BatchBuilder;
  private readonly pusher: BatchPusher;
  private readonly commitTimeoutMs: number;
  private readonly partitionLengths: Float64Array;
  private state: State = 'open';
  private failure: PegasusError | undefined;
  private nextBatch = 0;
  private records = 0;
  private blocks = 0;
  private storedBytes = 0;
  private rawBytes = 0;
  /** The promise a write() returned while over the memory bound. */
  private waiter: { promise: Promise<void>; resolve: () => void; reject: (e: PegasusError) => void } | undefined;

  constructor(init: ShuffleWriterInit) {
    const o = init.options ?? {};
    this.appId = checkAppId(init.appId);
    this.shuffleId = checkInt(init.shuffleId, 0, U32_MAX, 'shuffleId');
    this.mapId = checkInt(init.mapId, 0, U32_MAX, 'mapId');
    this.attempt = checkInt(init.attempt, 0, Number.MAX_SAFE_INTEGER, 'attempt');
    this.numPartitions = checkInt(init.numPartitions, 1, PARTITIONS_PER_SHUFFLE_MAX, 'numPartitions');
    const codec = o.codec ?? 'lz4';
    if (codec !== 'lz4' && codec !== 'none') throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `codec ${String(codec)} is not 'lz4' or 'none'`);
    const frameBytesMax = init.connection.frameBytesMax;
    const blockMax = Math.min(RECORD_BYTES_MAX + RECORD_LENGTH_BYTES, blockBytesFitting(frameBytesMax));
    this.blockBytes = checkInt(o.blockBytes ?? Math.min(BLOCK_BYTES_DEFAULT, blockMax), BLOCK_BYTES_MIN, blockMax, 'blockBytes');
    this.batchBytes = checkInt(o.batchBytes ?? BATCH_BYTES_DEFAULT, BATCH_BYTES_MIN, BATCH_BYTES_MAX, 'batchBytes');
    this.memoryBytesMax = checkInt(o.memoryBytesMax ?? WRITER_MEMORY_BYTES_DEFAULT, WRITER_MEMORY_BYTES_MIN, Number.MAX_SAFE_INTEGER, 'memoryBytesMax');
    this.recordBytesMax = blockMax - RECORD_LENGTH_BYTES;
    this.commitTimeoutMs = checkInt(o.commitTimeoutMs ?? COMMIT_TIMEOUT_MS_DEFAULT, 1, REQUEST_TIMEOUT_MS_MAX, 'commitTimeoutMs');
    this.partitionLengths = new Float64Array(this.numPartitions);
    this.bufferBytesMax = Math.floor(this.memoryBytesMax * PARTITION_BUFFERS_SHARE_OF_MEMORY);
    if (this.numPartitions * Math.min(PARTITION_BUFFER_BYTES_INITIAL, this.blockBytes) > this.bufferBytesMax) {
      this.buffers = null;
      this.arena = new RecordArena(this.numPartitions, this.blockBytes,
        Math.min(ARENA_CHUNK_BYTES_MAX, Math.floor(this.bufferBytesMax / ARENA_CHUNKS_PER_SHARE)));
    } else {
      this.arena = null;
      this.buffers = new PartitionBuffers(this.numPartitions, this.blockBytes,
        initialBufferBytes(this.numPartitions, this.bufferBytesMax, this.blockBytes));
    }
    this.builder = new BatchBuilder({ mapId: this.mapId, attempt: this.attempt, batchBytes: this.batchBytes, frameBytesMax });
    this.compressor = new BlockCompressor(codec, (b) => this.onBlock(b), (e) => this.fail(e));
    this.pusher = new BatchPusher(init.connection, {
      appId: this.appId,
      shuffleId: this.shuffleId,
      maxRetries: checkInt(o.maxRetries ?? RETRIES_MAX_DEFAULT, 0, RETRIES_MAX, 'maxRetries'),
      pushTimeoutMs: checkInt(o.pushTimeoutMs ?? PUSH_TIMEOUT_MS_DEFAULT, 1, REQUEST_TIMEOUT_MS_MAX, 'pushTimeoutMs'),
    }, {
      onProgress: () => this.onProgress(),
      onFail: (e) => this.fail(e),
    });
  }

  /** Everything the writer holds now: buffers, blocks being compressed, the open batch, unacked batches. */
  memoryBytes(): number {
    return this.bufferedBytes() + this.compressor.bytes + this.builder.storedBytes + this.pusher.bytes;
  }

  get pushCounters(): Readonly<PushCounters> {
    return this.pusher.counters;
  }

  /**
   * Buffers one record of `partition`. Returns undefined, or a promise when
   * the writer is over its memory bound: the caller must wait for it before the
   * next write() (a write() meanwhile throws INVALID_ARGUMENT; that is what keeps
   * memory bounded). Throws INVALID_ARGUMENT for a bad partition or a record
   * over recordBytesMax, and the writer's failure once it has failed.
   * `record` is copied before write() returns.
   */
  write(partition: number, record: Uint8Array): Promise<void> | undefined {
    if (this.state !== 'open') throw this.stateError();
    if (this.waiter !== undefined) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'write() called before the promise of an earlier write() settled');
    }
    if (!(partition >= 0 && partition < this.numPartitions && Number.isInteger(partition))) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `partition ${partition} is not in 0..${this.numPartitions - 1}`);
    }
    if (record.length > this.recordBytesMax) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT,
        `record of ${record.length} bytes exceeds the largest record, ${this.recordBytesMax} bytes (a block never splits a record)`);
    }
    const buffers = this.buffers;
    if (buffers !== null) {
      const used = buffers.usedBytes(partition);
      if (used > 0 && used + RECORD_LENGTH_BYTES + record.length > this.blockBytes) this.seal(partition);
      buffers.append(partition, record);
      if (buffers.usedBytes(partition) >= this.blockBytes) this.seal(partition);
      else if (buffers.bytesAllocated > this.bufferBytesMax) this.sealAll();
    } else {
      this.arena!.append(partition, record);
      if (this.arena!.bytesAllocated > this.bufferBytesMax) this.sealAll();
    }
    this.records++;
    if (this.memoryBytes() <= this.memoryBytesMax) return undefined;
    return this.relieve();
  }

  /**
   * Pushes everything, waits for every ack, and commits the attempt. Resolves
   * with the commit's outcome; `won: false` means another attempt of this map
   * committed first and this output will never be read.
   */
  async close(): Promise<CommitResult> {
    if (this.state !== 'open') throw this.stateError();
    if (this.waiter !== undefined) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'close() called before the promise of an earlier write() settled');
    }
    this.state = 'closing';
    try {
      this.sealAll();
      await this.compressor.drained();
      this.checkNotFailed();
      if (!this.builder.isEmpty) this.pushOpenBatch();
      await this.pusher.allAcked();
      this.checkNotFailed();
      const commit: CommitMap = {
        type: 'CommitMap', appId: this.appId, shuffleId: this.shuffleId, mapId: this.mapId, attempt: this.attempt,
        batchCount: this.nextBatch,
      };
      const answer = await this.pusher.request(commit, this.commitTimeoutMs);
      this.checkNotFailed();
      this.state = 'closed';
      await this.pusher.stop();
      return {
        won: answer.message.won,
        winnerAttempt: answer.message.winnerAttempt,
        bytesWritten: this.storedBytes,
        rawBytesWritten: this.rawBytes,
        records: this.records,
        blocks: this.blocks,
        batches: this.nextBatch,
        partitionLengths: Array.from(this.partitionLengths),
      };
    } catch (err) {
      const e = toPegasusError(err);
      this.fail(e);
      throw e;
    }
  }

  /**
   * Drops everything without committing. The server never serves an
   * uncommitted attempt, so pushed batches are harmless. A pending write()
   * promise rejects.
   */
  abort(): void {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.compressor.cancel();
    void this.pusher.stop();
    this.rejectWaiter(this.stateError());
  }

  // -------------------------------------------------------------------------

  /** Bytes the partition buffers or the arena hold. */
  private bufferedBytes(): number {
    return this.buffers !== null ? this.buffers.bytesAllocated : this.arena!.bytesAllocated;
  }

  /** Turns one partition's buffer into a block (per-partition buffers only). */
  private seal(partition: number): void {
    const raw = this.buffers!.take(partition);
    if (raw !== undefined) this.compressor.submit(partition, raw);
  }

  /** BlockCompressor hands finished blocks here, in seal order. */
  private onBlock(block: SealedBlock): void {
    if (this.failure !== undefined || this.state === 'aborted') return;
    try {
      if (!this.builder.fits(block.stored.length)) this.pushOpenBatch();
      this.builder.add(block);
      this.blocks++;
      this.storedBytes += block.stored.length;
      this.rawBytes += block.rawLength;
      this.partitionLengths[block.partition] = this.partitionLengths[block.partition]! + block.stored.length;
      if (this.builder.isFull) this.pushOpenBatch();
      else if (this.waiter !== undefined && this.compressor.idle) this.pushOpenBatch();
      this.onProgress();
    } catch (err) {
      this.fail(toPegasusError(err));
    }
  }

  private pushOpenBatch(): void {
    if (this.builder.isEmpty || this.failure !== undefined) return;
    if (this.nextBatch >= BATCHES_PER_ATTEMPT_MAX) {
      this.fail(new PegasusError(ErrorCode.LIMIT_EXCEEDED,
        `map ${this.mapId} attempt ${this.attempt} needs more than ${BATCHES_PER_ATTEMPT_MAX} batches; raise batchBytes`));
      return;
    }
    this.pusher.enqueue(this.builder.take(this.nextBatch++));
  }

  /** Turns every partition's records into a block, in partition order. */
  private sealAll(): void {
    if (this.buffers !== null) {
      for (const p of this.buffers.activeInOrder()) this.seal(p);
    } else {
      for (const b of this.arena!.takeAll()) this.compressor.submit(b.partition, b.raw);
    }
  }

  /**
   * Over the memory bound with the buffers below their share: the rest is
   * blocks on their way, so push the open batch as soon as compression
   * catches up, and wait for acks.
   */
  private relieve(): Promise<void> | undefined {
    if (this.state !== 'open') return Promise.reject(this.stateError());
    if (this.compressor.idle) this.pushOpenBatch();
    if (this.memoryBytes() <= this.memoryBytesMax) return undefined;
    let resolve!: () => void;
    let reject!: (e: PegasusError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiter = { promise, resolve, reject };
    return promise;
  }

  /** Called whenever memory may have been freed. */
  private onProgress(): void {
    const w = this.waiter;
    if (w === undefined) return;
    if (this.memoryBytes() <= this.memoryBytesMax) {
      this.waiter = undefined;
      w.resolve();
    }
  }

  private rejectWaiter(err: PegasusError): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  private fail(err: PegasusError): void {
    if (this.failure !== undefined || this.state === 'aborted' || this.state === 'closed') return;
    this.failure = err;
    this.state = 'failed';
    this.compressor.cancel();
    void this.pusher.stop();
    this.rejectWaiter(err);
  }

  private checkNotFailed(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.state === 'aborted') throw this.stateError();
  }

  private stateError(): PegasusError {
    if (this.failure !== undefined) return this.failure;
    return new PegasusError(ErrorCode.INVALID_ARGUMENT, `writer of map ${this.mapId} attempt ${this.attempt} is ${this.state}`);
  }
}
