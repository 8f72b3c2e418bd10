// One memory budget for every pushed byte the server holds. A push's bytes are
// copied out of the socket buffer at once (uWS reuses it), so a push either
// reserves room right away or waits in FIFO order holding its copy; both the
// buffered bytes (`used`) and the waiting copies (`waiting`) count against the
// budget, so used + waiting stays within it. A flush releases bytes once they
// are on disk. The wait delays the push's Ack, which is how a slow disk slows
// writers down instead of growing memory.
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

  /** Reserves now if there is room and nobody waits ahead; never waits. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length === 0 && this.fits(bytes, 0)) {
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
   * Whether `bytes` more fit beside what is used and what waits. When nothing
   * is buffered, the head of the queue is let in regardless, so a push larger
   * than the budget (legal, if the budget is tiny) or a crowd of waiters
   * larger than it can never wait forever.
   */
  private fits(bytes: number, waiting: number): boolean {
    return this.usedBytes + waiting + bytes <= this.budgetBytes || this.usedBytes === 0;
  }

  private wake(): void {
    // A waiter's bytes are already counted in waitingBytes, hence the 0.
    while (this.waiters.length > 0 && this.fits(0, this.waitingBytes)) {
      const w = this.waiters.shift()!;
      this.waitingBytes -= w.bytes;
      this.usedBytes += w.bytes;
      w.resolve();
    }
  }
}
