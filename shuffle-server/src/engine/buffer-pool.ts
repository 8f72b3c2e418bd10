// Reusable buffers for received bytes that the engine holds until a flush.
//
// Why. A push's bytes must be copied out of the socket buffer at once (uWS
// hands a view that is valid only during its callback). A fresh
// Buffer.allocUnsafeSlow per push of ~1 MiB is an mmap'd allocation that
// page-faults on the copy, is unmapped again when collected, and its external
// memory drives V8 into frequent full garbage collections: measured on the
// 2-core development machine, the copy into fresh buffers cost ~0.35 CPU-s per
// GiB against ~0.14 into reused ones, and GC took ~20 % of the server's ingest
// CPU. Buffers here are taken per push and given back exactly once, when the
// bytes are on disk (or dropped); the next push of a similar size reuses them.
//
// Sizes come in classes so that pushes of varying length share buffers: a
// length rounds up to a multiple of 1/16 of its next power of two (at
// least CLASS_STEP_MIN), so a buffer wastes at most 1/8 of its length (plus
// the minimum step for small pushes). Callers charge the memory budget with
// the class size (`PooledBuffer.capacity`), not the length, so the budget
// covers what is really held. Idle buffers use the budget's free room: held +
// idle stays within the budget (`room()` is budget - used - waiting), so the
// pool never makes the server hold more than its budget. A returned buffer that
// does not fit, or a fresh allocation past the room, drops idle buffers (of
// other sizes first) to the garbage collector; and when no push came for
// PUSH_BUFFERS_IDLE_MS, every idle buffer is dropped.
import assert from 'node:assert/strict';
import { PUSH_BUFFERS_IDLE_MS } from '../limits.js';

/** Smallest class step: lengths below 512 KiB round up to a multiple of this. */
const CLASS_STEP_MIN = 64 * 1024;

/** A buffer taken from a BufferPool: `bytes` is the caller's data, `capacity` what is held. */
export interface PooledBuffer {
  /** A view of the first `length` bytes of the held memory. */
  readonly bytes: Buffer;
  /** Bytes held (the size class): what the memory budget is charged. */
  readonly capacity: number;
}

interface Held extends PooledBuffer {
  readonly backing: Buffer;
  released: boolean;
}

/** The size class of a length: a multiple of max(CLASS_STEP_MIN, nextPow2(length) / 16), under 1/8 above it. */
export function sizeClass(length: number): number {
  assert.ok(Number.isSafeInteger(length) && length >= 0, `length ${length}`);
  if (length === 0) return 0;
  const pow2 = 2 ** Math.ceil(Math.log2(length));
  const step = Math.max(CLASS_STEP_MIN, pow2 / 16);
  return Math.ceil(length / step) * step;
}

export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytesTotal = 0;
  private takes = 0;
  private reuses = 0;
  private lastTakeMs: number;

  /**
   * `room()`: bytes the pool may keep idle now (the budget's free room).
   * `idleMs`: how long without a push before the idle buffers are dropped; `now` the clock.
   */
  constructor(
    private readonly room: () => number,
    private readonly idleMs = PUSH_BUFFERS_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.lastTakeMs = now();
  }

  /** Bytes held idle for reuse. */
  get idleBytes(): number {
    return this.idleBytesTotal;
  }

  /** Fraction of takes served by a reused buffer (0 before the first take). */
  get reuseRatio(): number {
    return this.takes === 0 ? 0 : this.reuses / this.takes;
  }

  /** A copy of `src` in a pooled buffer. Give it back with release() once, when nothing reads it any more. */
  copyOf(src: Uint8Array): PooledBuffer {
    const held = this.take(src.length);
    held.bytes.set(src, 0);
    return held;
  }

  /** A pooled buffer of `length` bytes, its contents arbitrary. Give it back with release() once, when nothing views it any more. */
  take(length: number): PooledBuffer {
    const capacity = sizeClass(length);
    let backing: Buffer | undefined;
    const list = this.idle.get(capacity);
    this.takes++;
    this.lastTakeMs = this.now();
    if (list !== undefined && list.length > 0) {
      backing = list.pop()!;
      this.idleBytesTotal -= capacity;
      this.reuses++;
    } else {
      this.trim(capacity);
      backing = Buffer.allocUnsafeSlow(capacity);
    }
    const held: Held = { bytes: backing.subarray(0, length), capacity, backing, released: false };
    return held;
  }

  /** Gives a buffer back. Its bytes may be overwritten by the next copyOf(): no view of it may be used after. */
  release(buffer: PooledBuffer): void {
    const held = buffer as Held;
    assert.ok(!held.released, 'pooled buffer released twice');
    held.released = true;
    if (held.capacity === 0 || held.capacity > this.room()) return;
    this.trim(held.capacity);
    let list = this.idle.get(held.capacity);
    if (list === undefined) {
      list = [];
      this.idle.set(held.capacity, list);
    }
    list.push(held.backing);
    this.idleBytesTotal += held.capacity;
  }

  /** Drops idle buffers, oldest size class first, until `extra` more bytes fit in the room. */
  private trim(extra: number): void {
    const room = this.room();
    for (const [capacity, list] of this.idle) {
      if (this.idleBytesTotal + extra <= room) return;
      while (list.length > 0 && this.idleBytesTotal + extra > room) {
        list.pop();
        this.idleBytesTotal -= capacity;
      }
      if (list.length === 0) this.idle.delete(capacity);
    }
  }

  /**
   * Called at every housekeeping tick: when no push took a buffer for
   * `idleMs`, pushes have stopped (or moved elsewhere), and the idle buffers
   * are dropped, so a server that only serves reads does not keep them.
   */
  dropIdleIfUnused(): void {
    if (this.idleBytesTotal > 0 && this.now() - this.lastTakeMs >= this.idleMs) this.clear();
  }

  /** Drops every idle buffer (for the garbage collector). */
  clear(): void {
    this.idle.clear();
    this.idleBytesTotal = 0;
  }
}
