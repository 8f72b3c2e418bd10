// One object being written: its bytes in blocks of OBJECT_BLOCK_BYTES held in
// the memory budget, written to the object's own segment log in runs (a run
// per flush, every block full but a run's last: OBJECT_ROWS.md "Object bytes"),
// and made visible by the namespace once closed (object-service.ts). The log is
// opened (and the object's pending row written) only at the first flush: an
// object closed at OBJECT_INLINE_BYTES_MAX or less without one is stored in the
// index instead (inline), and never touched the disk before its close.
//
// Appends are taken in the order they arrive (offset must equal the bytes so
// far), copied into pooled blocks synchronously (the frame's memory is reused
// after the call) and then admitted by the budget, which may make them wait:
// that is the back pressure a writer feels, as for shuffle pushes. Flushes of
// one writer run one after the other (the chain); a failed flush fails the
// writer for good (its later appends and its close answer the error).
import { crc32c } from '../../../native/ts/crc32c.js';
import { Codec } from '../../../schemas/ts/messages.js';
import type { Engine } from '../engine/engine.js';
import type { PooledBuffer } from '../engine/buffer-pool.js';
import type { FlushSource } from '../engine/flusher.js';
import type { SegmentLog } from '../engine/segment-log.js';
import type { BufferedBlock } from '../engine/types.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { OBJECT_BLOCK_BYTES, OBJECT_FLUSH_BYTES } from '../limits.js';

/** What a writer was opened with. */
export interface WriterOptions {
  id: number;
  path: string;
  parts: string[];
  overwrite: boolean;
  /** Expiry after the close, ms (0: none). */
  ttlMs: number;
  /** A cache file: the server may delete it for room. */
  cache: boolean;
}

interface Block {
  buffer: PooledBuffer;
  /** Bytes filled. */
  used: number;
  /** Object offset of its first byte. */
  offset: number;
  /** Index among the object's blocks. */
  index: number;
  /** The budget reserved its capacity (admit resolved). */
  admitted: boolean;
  /** Released (written or dropped): an admission that resolves later is given back at once. */
  released: boolean;
}

export class ObjectWriter implements FlushSource {
  /** Bytes appended (accepted) so far. */
  private appended = 0;
  private blocksMade = 0;
  private current: Block | null = null;
  /** Full blocks not yet handed to a flush. */
  private full: Block[] = [];
  /** Budget bytes held by this writer's blocks (their capacity). */
  private charged = 0;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private running = false;
  private failure: PegasusError | null = null;
  private ended = false;
  /** Tier id of the first segment written, for the entry. */
  firstTierId: number | null = null;
  /** Bytes of accepted appends counted against the top-level directory's quota (the service's). */
  quotaBytes = 0;

  /** The object's segment log, once a flush opened it. */
  log: SegmentLog | null = null;

  constructor(
    readonly opts: WriterOptions,
    private readonly engine: Engine,
    /** Writes the pending row and opens the log: before the object's first byte goes to disk. */
    private readonly openLog: () => Promise<SegmentLog>,
  ) {}

  get length(): number {
    return this.appended;
  }

  // FlushSource -------------------------------------------------------------

  get bufferedBytes(): number {
    return this.charged;
  }

  get hasQueuedFlush(): boolean {
    return this.queued > 0;
  }

  get hasPendingFlush(): boolean {
    return this.queued > 0 || this.running;
  }

  get isRemoved(): boolean {
    return this.ended;
  }

  describe(): Record<string, unknown> {
    return { objectId: this.opts.id, path: this.opts.path };
  }

  /** Writes everything held, the partly filled block too (memory pressure). */
  flush(): Promise<void> {
    return this.enqueueFlush(true);
  }

  // Appends -----------------------------------------------------------------

  /**
   * Takes `body` (the bytes at object offset `offset`, their CRC32C `crc`).
   * Copies synchronously; resolves once the budget admitted them.
   */
  async append(offset: number, body: Buffer, crc: number): Promise<void> {
    this.checkUsable();
    if (offset !== this.appended) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `append at offset ${offset}, but ${this.opts.path} has ${this.appended} bytes so far`);
    }
    const actual = crc32c(body);
    if (actual !== crc) throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `append of ${body.length} bytes at ${offset} has CRC32C ${actual.toString(16)}, the message says ${crc.toString(16)}`);
    const flusher = this.engine.flusher;
    flusher.checkRoom();
    const admissions: Array<Promise<void>> = [];
    let at = 0;
    while (at < body.length) {
      let b = this.current;
      if (b === null) {
        b = this.newBlock(this.appended + at);
        this.current = b;
        admissions.push(this.admit(b));
      }
      const n = Math.min(OBJECT_BLOCK_BYTES - b.used, body.length - at);
      b.buffer.bytes.set(body.subarray(at, at + n), b.used);
      b.used += n;
      at += n;
      if (b.used === OBJECT_BLOCK_BYTES) {
        this.full.push(b);
        this.current = null;
      }
    }
    this.appended += body.length;
    if (admissions.length > 0) await Promise.all(admissions);
    this.engine.metrics.objectBytesAppended.inc(body.length);
    if (this.fullBytes() >= OBJECT_FLUSH_BYTES && this.queued === 0) void this.enqueueFlush(false).catch(() => undefined);
    flusher.afterBuffered();
  }

  /**
   * Writes everything and waits for every flush: the bytes are durable and
   * indexed when it resolves. Returns the bytes instead, written nowhere, when the
   * object is small enough to be stored inline and no flush opened its log.
   */
  async finish(length: number, inlineMax: number): Promise<Buffer | null> {
    this.checkUsable();
    if (length !== this.appended) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `close says ${length} bytes, but ${this.appended} were appended to ${this.opts.path}`);
    }
    await this.chain;
    this.checkUsable();
    if (this.log === null && length <= inlineMax) {
      const held = [...this.full, ...(this.current === null ? [] : [this.current])];
      return Buffer.concat(held.map((b) => b.buffer.bytes.subarray(0, b.used)), length);
    }
    await this.enqueueFlush(true);
    this.checkUsable();
    await this.log?.sealActive();
    return null;
  }

  /** Ends the writer: no flush starts after this; resolves once a running one ended; frees every held block. */
  async end(): Promise<void> {
    this.ended = true;
    await this.chain.catch(() => undefined);
    const held = [...this.full, ...(this.current === null ? [] : [this.current])];
    this.full = [];
    this.current = null;
    this.releaseBlocks(held);
  }

  private newBlock(offset: number): Block {
    const buffer = this.engine.pushBuffers.take(OBJECT_BLOCK_BYTES);
    this.charged += buffer.capacity;
    return { buffer, used: 0, offset, index: this.blocksMade++, admitted: false, released: false };
  }

  /**
   * Reserves a block's capacity in the budget. Each block carries its own
   * reservation, so a block written (or dropped) before the budget admitted it
   * gives the reservation back when it comes, and one never admitted gives
   * nothing back.
   */
  private async admit(b: Block): Promise<void> {
    try {
      await this.engine.flusher.admit(b.buffer.capacity);
    } catch (err) {
      if (this.failure === null) this.failure = err instanceof PegasusError ? err : new PegasusError(ErrorCode.INTERNAL, String(err));
      throw err;
    }
    b.admitted = true;
    if (b.released) this.engine.budget.release(b.buffer.capacity);
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.ended) throw new PegasusError(ErrorCode.NOT_FOUND, `${this.opts.path} is no longer open for writing`);
  }

  private fullBytes(): number {
    return this.full.length * OBJECT_BLOCK_BYTES;
  }

  private enqueueFlush(withPartial: boolean): Promise<void> {
    this.queued++;
    const run = this.chain.then(async () => {
      this.queued--;
      this.running = true;
      try {
        await this.flushNow(withPartial);
      } finally {
        this.running = false;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async flushNow(withPartial: boolean): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.ended) return;
    const blocks = this.full;
    this.full = [];
    if (withPartial && this.current !== null && this.current.used > 0) {
      blocks.push(this.current);
      this.current = null;
    }
    if (blocks.length === 0) return;
    const run: BufferedBlock[] = blocks.map((b) => {
      const data = b.buffer.bytes.subarray(0, b.used);
      return {
        header: {
          attempt: b.offset, mapId: 0, partition: 0, batch: 0, seq: b.index,
          rawLength: b.used, storedLength: b.used, crc32c: crc32c(data), codec: Codec.NONE,
        },
        data,
      };
    });
    try {
      const log = this.log ??= await this.openLog();
      const entries = await this.engine.append(log, [{ partition: 0, blocks: run }], []);
      if (this.firstTierId === null && entries.length > 0) this.firstTierId = log.segmentState(entries[0]!.segmentId)?.tierId ?? null;
    } catch (err) {
      this.failure = err instanceof PegasusError ? err : new PegasusError(ErrorCode.STORAGE_IO, String(err), { cause: err });
      this.engine.flusher.noteError(err);
      throw this.failure;
    } finally {
      this.releaseBlocks(blocks);
    }
  }

  private releaseBlocks(blocks: Block[]): void {
    for (const b of blocks) {
      b.released = true;
      this.charged -= b.buffer.capacity;
      if (b.admitted) this.engine.budget.release(b.buffer.capacity);
      this.engine.pushBuffers.release(b.buffer);
    }
  }
}
