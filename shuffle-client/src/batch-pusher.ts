// Pushes one writer's batches, keeps each until the server acknowledges it, and
// recovers from a lost or stuck connection.
//
// Flow control: at most `window` of this writer's pushes are in flight (the
// connection's push_window, which the Connection enforces too when writers
// share it). Batches beyond that wait here; the writer's memory bound, which
// counts them, keeps the wait list short.
//
// Retry: a push that fails with TIMEOUT or CONNECTION_CLOSED starts a
// recovery: wait (exponential backoff), open a new connection to the same
// address, and push every unacknowledged batch again with the same batch
// number, in order. The server stores a repeated (map, attempt, batch) once, so
// a batch that did arrive before the failure is harmless to resend. Each
// recovery bumps a generation; answers from an older connection still count
// as acks (the data arrived) but their failures are ignored. After `maxRetries`
// recoveries without an ack in between the writer fails with the last error.
// Other codes (DISK_FULL, UNKNOWN_SHUFFLE, ...) are not retried: they would
// fail again.
import { ErrorCode, PegasusError, toPegasusError } from '../../schemas/ts/errors.js';
import type { Frame, PushBlocks } from '../../schemas/ts/messages.js';
import type { Batch } from './batch-builder.js';
import { Connection, type AnswerOf, type RequestMessage } from './connection.js';
import { RETRY_BACKOFF_MS_INITIAL, RETRY_BACKOFF_MS_MAX } from './limits.js';

export interface BatchPusherOptions {
  appId: string;
  shuffleId: number;
  maxRetries: number;
  pushTimeoutMs: number;
}

export interface BatchPusherHooks {
  /** A batch was acknowledged (memory was freed). */
  onProgress(): void;
  /** The pusher failed for good; no further hook calls follow. */
  onFail(err: PegasusError): void;
}

/** Counters of one writer's pushes. */
export interface PushCounters {
  pushes: number;
  acks: number;
  reconnects: number;
  retriedPushes: number;
}

export function isRetryable(err: unknown): boolean {
  return PegasusError.is(err, ErrorCode.TIMEOUT) || PegasusError.is(err, ErrorCode.CONNECTION_CLOSED);
}

export class BatchPusher {
  private conn: Connection;
  private ownsConnection = false;
  private readonly opts: BatchPusherOptions;
  private readonly hooks: BatchPusherHooks;
  /** Batches not yet acknowledged, by batch number. */
  private readonly unacked = new Map<number, Batch>();
  /** Batches to send, in batch order. */
  private queue: Batch[] = [];
  private inFlight = 0;
  private generation = 0;
  private recovering = false;
  private failures = 0;
  private failure: PegasusError | undefined;
  private stopped = false;
  private idleWaiters: { resolve: () => void; reject: (e: PegasusError) => void }[] = [];
  private readyWaiters: { resolve: () => void; reject: (e: PegasusError) => void }[] = [];
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Stored bytes of the unacknowledged batches. */
  bytes = 0;
  readonly counters: PushCounters = { pushes: 0, acks: 0, reconnects: 0, retriedPushes: 0 };

  constructor(conn: Connection, opts: BatchPusherOptions, hooks: BatchPusherHooks) {
    this.conn = conn;
    this.opts = opts;
    this.hooks = hooks;
  }

  /** The connection pushes currently go to. */
  get connection(): Connection {
    return this.conn;
  }

  /** Batches waiting to be sent or for their ack. */
  get unackedCount(): number {
    return this.unacked.size;
  }

  enqueue(batch: Batch): void {
    if (this.failure !== undefined || this.stopped) return;
    this.unacked.set(batch.batch, batch);
    this.bytes += batch.storedBytes;
    this.queue.push(batch);
    this.pump();
  }

  /** Resolves when every enqueued batch is acknowledged; rejects if the pusher fails. */
  allAcked(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.unacked.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /**
   * Sends a non-push request (CommitMap) with the same retry policy as pushes:
   * a retryable failure reconnects and asks again.
   */
  async request<M extends RequestMessage>(message: M, timeoutMs: number): Promise<Frame<AnswerOf<M>>> {
    for (;;) {
      await this.ready();
      const generation = this.generation;
      try {
        return await this.conn.request(message, [], { timeoutMs });
      } catch (err) {
        if (!isRetryable(err) || this.stopped) throw toPegasusError(err);
        if (generation === this.generation) this.recover(toPegasusError(err));
      }
    }
  }

  /** Stops all work; pending answers are ignored. Closes a connection it opened itself. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.backoffTimer);
    this.queue = [];
    const err = this.failure ?? new PegasusError(ErrorCode.CONNECTION_CLOSED, 'writer stopped');
    this.rejectWaiters(err);
    return this.ownsConnection ? this.conn.close() : Promise.resolve();
  }

  private pump(): void {
    while (!this.recovering && !this.stopped && this.failure === undefined &&
      this.inFlight < this.conn.pushWindow && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      if (this.unacked.has(batch.batch)) this.send(batch);
    }
  }

  private send(batch: Batch): void {
    const generation = this.generation;
    const message: PushBlocks = { type: 'PushBlocks', appId: this.opts.appId, shuffleId: this.opts.shuffleId, blocks: batch.headers };
    this.inFlight++;
    this.counters.pushes++;
    this.conn.request(message, batch.parts, { timeoutMs: this.opts.pushTimeoutMs }).then(
      () => {
        if (generation === this.generation) {
          this.inFlight--;
          this.failures = 0;
        }
        this.acked(batch);
      },
      (err: unknown) => {
        if (generation !== this.generation || this.stopped) return;
        this.inFlight--;
        const e = toPegasusError(err);
        if (isRetryable(e)) this.recover(e);
        else this.fail(e);
      },
    );
  }

  private acked(batch: Batch): void {
    if (this.stopped || !this.unacked.delete(batch.batch)) return;
    this.bytes -= batch.storedBytes;
    this.counters.acks++;
    if (this.unacked.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w.resolve();
    }
    this.pump();
    this.hooks.onProgress();
  }

  private recover(err: PegasusError): void {
    if (this.recovering || this.failure !== undefined || this.stopped) return;
    this.failures++;
    if (this.failures > this.opts.maxRetries) {
      this.fail(new PegasusError(err.wireCode, `${err.message} (gave up after ${this.opts.maxRetries} reconnects)`, { cause: err }));
      return;
    }
    this.recovering = true;
    this.generation++;
    this.inFlight = 0;
    // Everything not yet acknowledged goes again, in batch order.
    this.queue = [...this.unacked.values()].sort((a, b) => a.batch - b.batch);
    this.counters.retriedPushes += this.queue.length;
    const old = this.conn;
    if (this.ownsConnection) void old.close();
    const delayMs = Math.min(RETRY_BACKOFF_MS_MAX, RETRY_BACKOFF_MS_INITIAL * 2 ** (this.failures - 1));
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      Connection.connect(old.address, old.options).then(
        (conn) => {
          if (this.stopped) {
            void conn.close();
            return;
          }
          this.conn = conn;
          this.ownsConnection = true;
          this.counters.reconnects++;
          this.recovering = false;
          this.resolveReady();
          this.pump();
        },
        (e: unknown) => {
          this.recovering = false;
          if (this.stopped) return;
          const pe = toPegasusError(e);
          if (isRetryable(pe)) this.recover(pe);
          else this.fail(pe);
        },
      );
    }, delayMs);
  }

  private ready(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.stopped) return Promise.reject(new PegasusError(ErrorCode.CONNECTION_CLOSED, 'writer stopped'));
    if (!this.recovering) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private resolveReady(): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private rejectWaiters(err: PegasusError): void {
    const waiters = [...this.idleWaiters, ...this.readyWaiters];
    this.idleWaiters = [];
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private fail(err: PegasusError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    clearTimeout(this.backoffTimer);
    this.queue = [];
    this.rejectWaiters(err);
    this.hooks.onFail(err);
  }
}
