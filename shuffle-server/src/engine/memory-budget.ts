// One memory budget for every pushed byte the server holds. A push's bytes are
// copied out of the socket buffer at once (uWS cannot pause reading a
// WebSocket), so a push either gets room right away or waits in FIFO order
// holding its copy. The wait delays the push's Ack, and a client never has more
// than its push window unacknowledged, so a slow disk slows writers down.
//
// To keep buffered + waiting within the budget, room is kept for what the
// windows can still send: `inflightReserve` is the sum over connections of
// window x largest push seen, and buffered bytes may only grow to
// budget - reserve. The reserve is capped at half the budget so that many
// connections cannot starve buffering; past that cap (connections x window x
// push size > budget / 2) waiting copies can exceed the budget by the excess,
// visible as pegasus_memory_waiting_bytes. A flush releases bytes once they are
// on disk.
import assert from 'node:assert/strict';
import { ErrorCode, PegasusError } from '../errors.js';

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class MemoryBudget {
  readonly budgetBytes: number;
  private usedBytes = 0;
  private waitingBytes = 0;
  private reserveBytes = 0;
  private readonly waiters: Waiter[] = [];
  private readonly waitersMax: number;

  /** `waitersMax` bounds the queue: it is the most pushes that can be in flight at once. */
  constructor(budgetBytes: number, waitersMax: number) {
    assert.ok(budgetBytes > 0 && waitersMax > 0);
    this.budgetBytes = budgetBytes;
    this.waitersMax = waitersMax;
  }

  get used(): number {
    return this.usedBytes;
  }

  /** Bytes of pushes waiting for room. */
  get waiting(): number {
    return this.waitingBytes;
  }

  get waiterCount(): number {
    return this.waiters.length;
  }

  /** Room kept for pushes the connections' windows may still send (capped at half the budget). */
  get inflightReserve(): number {
    return Math.min(this.reserveBytes, Math.floor(this.budgetBytes / 2));
  }

  /** Adds (or with a negative delta, removes) a connection's window x largest push. */
  adjustReserve(deltaBytes: number): void {
    this.reserveBytes += deltaBytes;
    assert.ok(this.reserveBytes >= 0, `reserve ${this.reserveBytes} < 0`);
    this.wake();
  }

  /** Reserves now if there is room and nobody waits ahead; never waits. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.usedBytes += bytes;
      return true;
    }
    return false;
  }

  /** Reserves `bytes`, waiting in FIFO order for room. */
  reserve(bytes: number): Promise<void> {
    if (this.tryReserve(bytes)) return Promise.resolve();
    if (this.waiters.length >= this.waitersMax) {
      return Promise.reject(new PegasusError(ErrorCode.LIMIT_EXCEEDED, `memory wait queue full (${this.waitersMax} pushes waiting)`));
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ bytes, resolve, reject });
      this.waitingBytes += bytes;
    });
  }

  release(bytes: number): void {
    assert.ok(bytes >= 0 && bytes <= this.usedBytes, `release ${bytes} of ${this.usedBytes} used`);
    this.usedBytes -= bytes;
    this.wake();
  }

  /** Fails every waiter (server stopping). */
  rejectAll(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.waitingBytes = 0;
  }

  /**
   * Whether `bytes` more may be buffered. When nothing is buffered the push is
   * let in regardless, so a push larger than the budget (legal, if the budget
   * is tiny) can never wait forever.
   */
  private fits(bytes: number): boolean {
    return this.usedBytes + bytes <= this.budgetBytes - this.inflightReserve || this.usedBytes === 0;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      this.waitingBytes -= w.bytes;
      this.usedBytes += w.bytes;
      w.resolve();
    }
  }
}

/**
 * One connection's share of the in-flight reserve: window x the largest push
 * seen on it. Handed out by the tenant to the network layer, which only notes
 * push sizes through it and closes it with the connection.
 */
export class PushWindow {
  private largestPushBytes = 0;
  private closed = false;

  constructor(private readonly budget: MemoryBudget, private readonly window: number) {}

  /** A push of `bytes` arrived: grows the reservation if it is the largest yet. */
  note(bytes: number): void {
    if (this.closed || bytes <= this.largestPushBytes) return;
    this.budget.adjustReserve(this.window * (bytes - this.largestPushBytes));
    this.largestPushBytes = bytes;
  }

  /** The connection closed: its reservation ends. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.adjustReserve(-this.window * this.largestPushBytes);
    this.largestPushBytes = 0;
  }
}
