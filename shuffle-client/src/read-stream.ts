// One read stream: OpenRead (a shuffle's partitions) or OpenObject (a range of
// an object's bytes), then ReadData frames until ReadEnd, consumed as an async
// iterator of verified, decompressed blocks.
//
// Flow control: the server may send `credit` bytes (stored bytes, the sum of
// stored_length) ahead of the consumer, overdrawing by at most one frame.
// Frames wait in `queue`; as the consumer takes blocks, the freed credit is
// granted back with ReadCredit once at least 1/READ_CREDIT_GRANT_DIVISOR of
// it is free. So the queue never holds more than credit + one frame; a server
// sending more is a FLOW_CONTROL_VIOLATION and the stream fails.
//
// Integrity: a block is yielded only after its CRC32C matched
// (CHECKSUM_MISMATCH) and it decompressed to exactly raw_length
// (CORRUPT_DATA). Blocks outside the requested ranges, partitions out of order,
// object bytes not following each other from the requested offset (a block's
// `attempt` is the object offset of its bytes: FRAMING.md "Objects"), and a
// ReadEnd whose counts differ from what arrived fail the stream with
// CORRUPT_DATA. After an error the iterator yields nothing more.
//
// Cancellation: return() (a `break` out of for-await) sends CancelRead and the
// connection forgets the stream; late frames of it are dropped.
import { ErrorCode, PegasusError, errorCodeName, toPegasusError } from '../../schemas/ts/errors.js';
import type { Frame, OpenObject, OpenRead, ReadData, ReadRange } from '../../schemas/ts/messages.js';
import { checkBlock } from './block-check.js';
import type { ReadBlock, ReadCounters } from './read-block.js';
import type { Connection, StreamHandler } from './connection.js';
import { READ_CREDIT_GRANT_DIVISOR } from './limits.js';

export type { ReadBlock, ReadCounters, ReadRange };

/** What a stream reads: partitions of a shuffle, or bytes of an object (OpenObject without its credit). */
export type ReadSource = ReadRange | Omit<OpenObject, 'creditBytes'>;

function isObjectRead(s: ReadSource): s is Omit<OpenObject, 'creditBytes'> {
  return (s as { type?: string }).type === 'OpenObject';
}

export interface ReadStreamOptions {
  creditBytes: number;
  idleTimeoutMs: number;
}

type State = 'new' | 'open' | 'ended' | 'failed' | 'done';

export class ReadStream implements AsyncIterableIterator<ReadBlock>, StreamHandler {
  readonly counters: ReadCounters = { blocks: 0, storedBytes: 0, rawBytes: 0, creditGrants: 0 };
  private readonly conn: Connection;
  private readonly range: ReadSource;
  private readonly opts: ReadStreamOptions;
  /** Object reads: the object offset the next block must start at. */
  private nextOffset = 0;
  private state: State = 'new';
  private streamId = 0;
  private error: PegasusError | undefined;
  private readonly queue: Frame<ReadData>[] = [];
  private blockIndex = 0;
  private bodyOffset = 0;
  private queuedBytes = 0;
  private receivedBlocks = 0;
  private receivedBytes = 0;
  private grantedBytes = 0;
  private lastPartition = 0;
  /** A pending next() (one block) or nextBlocks() (the rest of the head frame's blocks). */
  private waiting: {
    batch: boolean;
    resolve: (r: IteratorResult<ReadBlock & ReadBlock[]>) => void;
    reject: (e: PegasusError) => void;
  } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(conn: Connection, range: ReadSource, opts: ReadStreamOptions) {
    this.conn = conn;
    this.range = range;
    this.opts = opts;
    if (isObjectRead(range)) this.nextOffset = range.offset;
    else this.lastPartition = range.partitionStart;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ReadBlock>> {
    return this.wait(false);
  }

  /**
   * Like next(), but resolves with every block of the frame at the head of the
   * queue that next() has not returned yet (at least one): a reader of many
   * small blocks pays one promise per frame instead of one per block.
   */
  nextBlocks(): Promise<IteratorResult<ReadBlock[]>> {
    return this.wait(true);
  }

  private wait(batch: boolean): Promise<IteratorResult<ReadBlock & ReadBlock[]>> {
    if (this.waiting !== undefined) {
      return Promise.reject(new PegasusError(ErrorCode.INVALID_ARGUMENT, 'next() called while an earlier next() is pending'));
    }
    if (this.state === 'new') {
      try {
        this.open();
      } catch (err) {
        this.state = 'done';
        return Promise.reject(toPegasusError(err));
      }
    }
    return new Promise((resolve, reject) => {
      this.waiting = { batch, resolve, reject };
      this.serve();
    });
  }

  /** Ends the iteration early; cancels the stream on the server if it is still running. */
  return(): Promise<IteratorResult<ReadBlock>> {
    if (this.state === 'open') this.conn.cancelStream(this.streamId);
    this.finish();
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve({ done: true, value: undefined });
    return Promise.resolve({ done: true, value: undefined });
  }

  // -------------------------------------------------------------------------
  // StreamHandler

  onFrame(frame: Frame): void {
    if (this.state !== 'open') return; // cancelled or failed: drain quietly
    const m = frame.message;
    switch (m.type) {
      case 'ReadData':
        this.onData(frame as Frame<ReadData>);
        break;
      case 'ReadEnd':
        if (m.blockCount !== this.receivedBlocks || m.byteCount !== this.receivedBytes) {
          this.fail(new PegasusError(ErrorCode.CORRUPT_DATA, `${this.describe()}: ReadEnd counts ${m.blockCount} blocks / ${m.byteCount} bytes, ` +
            `received ${this.receivedBlocks} blocks / ${this.receivedBytes} bytes`), false);
        } else {
          this.state = 'ended';
        }
        break;
      case 'Error':
        this.fail(new PegasusError(m.code, `${this.describe()}: ${errorCodeName(m.code)}: ${m.message}`), false);
        break;
      default:
        this.fail(new PegasusError(ErrorCode.UNKNOWN_MESSAGE, `${this.describe()}: unexpected ${m.type} on a read stream`), true);
        break;
    }
    this.serve();
  }

  onClose(err: PegasusError): void {
    if (this.state !== 'open') return;
    this.fail(err, false);
    this.serve();
  }

  // -------------------------------------------------------------------------

  private open(): void {
    const r = this.range;
    if (isObjectRead(r)) {
      this.streamId = this.conn.openStream({ ...r, creditBytes: this.opts.creditBytes }, this);
      this.grantedBytes = this.opts.creditBytes;
      this.state = 'open';
      return;
    }
    const message: OpenRead = {
      type: 'OpenRead', appId: r.appId, shuffleId: r.shuffleId, partitionStart: r.partitionStart, partitionEnd: r.partitionEnd,
      mapStart: r.mapStart, mapEnd: r.mapEnd, creditBytes: this.opts.creditBytes,
    };
    this.streamId = this.conn.openStream(message, this);
    this.grantedBytes = this.opts.creditBytes;
    this.state = 'open';
  }

  private onData(frame: Frame<ReadData>): void {
    const r = this.range;
    const blocks = frame.message.blocks;
    if (isObjectRead(r)) {
      for (const h of blocks) {
        if (h.attempt !== this.nextOffset || h.attempt + h.storedLength > r.offset + r.length) {
          this.fail(new PegasusError(ErrorCode.CORRUPT_DATA, `${this.describe()}: got ${h.storedLength} bytes at offset ${h.attempt}, expected bytes from ${this.nextOffset}`), true);
          return;
        }
        this.nextOffset += h.storedLength;
      }
    } else for (const h of blocks) {
      if (h.partition < this.lastPartition || h.partition >= r.partitionEnd || h.mapId < r.mapStart || h.mapId >= r.mapEnd) {
        this.fail(new PegasusError(ErrorCode.CORRUPT_DATA, `${this.describe()}: got a block of partition ${h.partition} map ${h.mapId} ` +
          `(outside the ranges, or after partition ${this.lastPartition})`), true);
        return;
      }
      this.lastPartition = h.partition;
    }
    this.receivedBlocks += blocks.length;
    this.receivedBytes += frame.body.length;
    // The server may overdraw its credit by at most one frame.
    if (this.receivedBytes > this.grantedBytes + this.conn.frameBytesMax) {
      this.fail(new PegasusError(ErrorCode.FLOW_CONTROL_VIOLATION, `${this.describe()}: server sent ${this.receivedBytes} bytes ` +
        `against ${this.grantedBytes} granted`), true);
      return;
    }
    if (blocks.length === 0) return;
    this.queue.push(frame);
    this.queuedBytes += frame.body.length;
  }

  /** Answers a waiting next() if there is something to answer with. */
  private serve(): void {
    const w = this.waiting;
    if (w === undefined) return;
    if (this.state === 'failed') {
      this.waiting = undefined;
      const err = this.error!;
      this.finish();
      w.reject(err);
      return;
    }
    if (this.queue.length > 0) {
      this.waiting = undefined;
      this.clearIdleTimer();
      let value: ReadBlock | ReadBlock[];
      try {
        if (w.batch) {
          const frame = this.queue[0]!;
          const blocks: ReadBlock[] = [];
          while (this.queue[0] === frame) blocks.push(this.take());
          value = blocks;
        } else {
          value = this.take();
        }
      } catch (err) {
        this.fail(toPegasusError(err), true);
        this.finish();
        w.reject(this.error!);
        return;
      }
      // One resolver serves both shapes; `batch` decided which one this is.
      w.resolve({ done: false, value: value as ReadBlock & ReadBlock[] });
      return;
    }
    if (this.state === 'ended' || this.state === 'done') {
      this.waiting = undefined;
      this.finish();
      w.resolve({ done: true, value: undefined });
      return;
    }
    // Open and empty: the server owes us data, since all credit is out.
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.fail(new PegasusError(ErrorCode.TIMEOUT, `${this.describe()}: no data for ${this.opts.idleTimeoutMs} ms`), true);
        this.serve();
      }, this.opts.idleTimeoutMs);
    }
  }

  private take(): ReadBlock {
    const frame = this.queue[0]!;
    const h = frame.message.blocks[this.blockIndex]!;
    const stored = frame.body.subarray(this.bodyOffset, this.bodyOffset + h.storedLength);
    this.blockIndex++;
    this.bodyOffset += h.storedLength;
    if (this.blockIndex === frame.message.blocks.length) {
      this.queue.shift();
      this.blockIndex = 0;
      this.bodyOffset = 0;
    }
    this.queuedBytes -= h.storedLength;
    this.grantCredit();
    return checkBlock(h, stored, this.counters, this.describe());
  }

  private grantCredit(): void {
    if (this.state !== 'open') return;
    const outstanding = Math.max(0, this.grantedBytes - this.receivedBytes);
    const free = this.opts.creditBytes - this.queuedBytes - outstanding;
    if (free < this.opts.creditBytes / READ_CREDIT_GRANT_DIVISOR) return;
    // Credit lost to an overdraw is made up too, so the server's balance
    // returns to `creditBytes` minus what is queued here.
    const grant = free + Math.max(0, this.receivedBytes - this.grantedBytes);
    this.grantedBytes += grant;
    this.counters.creditGrants++;
    this.conn.sendCredit(this.streamId, grant);
  }

  private fail(err: PegasusError, cancel: boolean): void {
    if (this.state === 'failed' || this.state === 'done') return;
    if (cancel && this.state === 'open') this.conn.cancelStream(this.streamId);
    this.state = 'failed';
    this.error = err;
    this.dropQueue();
  }

  /** Final state: nothing more is yielded. */
  private finish(): void {
    this.state = 'done';
    this.dropQueue();
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.clearIdleTimer();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }

  private describe(): string {
    const r = this.range;
    if (isObjectRead(r)) return `read of ${r.path} bytes [${r.offset},${r.offset + r.length}) from ${this.conn.address}`;
    return `read of ${r.appId}/${r.shuffleId} partitions [${r.partitionStart},${r.partitionEnd}) maps [${r.mapStart},${r.mapEnd}) ` +
      `from ${this.conn.address}`;
  }
}
