// One memory budget for every buffered pushed block on the server. Pushes
// reserve their bytes before they are buffered; a flush releases them once the
// bytes are on disk. When the budget is used up, reservations wait in FIFO
// order: that wait delays the push's Ack, which is how a slow disk slows
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
   * A single reservation larger than the whole budget is let in when nothing
   * else is held, so an oversized (but legal) push cannot wait forever.
   */
  private fits(bytes: number): boolean {
    return this.usedBytes + bytes <= this.budgetBytes || this.usedBytes === 0;
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
