// Reusable buffers for read windows (run-reader.ts readRuns() with
// `reuseWindows`). A read that streams its windows out as it goes (the
// WebSocket read stream sends a window's blocks before it asks for the next
// one) needs a window's bytes only until then, so the next window, of this
// read or of another, can be read into the same memory.
//
// Why. A fresh Buffer per window is memory the process touches for the first
// time: page faults and, on the VMs measured here, costly first touches; and
// its external memory drives V8's garbage collections. A Spark job reading 2
// GiB allocated 2 GiB of windows this way.
//
// Sizes are powers of two from READ_BUFFER_BYTES_MIN, so a window takes the
// smallest class that holds it. At most READ_BUFFERS_IDLE_BYTES_MAX are kept
// idle; what a give() would put past that goes to the garbage collector.
//
// Thread contract: event loop only.
import assert from 'node:assert/strict';

import { READ_BUFFER_BYTES_MIN, READ_BUFFERS_IDLE_BYTES_MAX } from '../limits.js';

export class ReadBufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytesTotal = 0;
  private takes = 0;
  private reuses = 0;

  constructor(private readonly idleBytesMax = READ_BUFFERS_IDLE_BYTES_MAX) {}

  /** Bytes held idle for reuse. */
  get idleBytes(): number {
    return this.idleBytesTotal;
  }

  /** Fraction of takes served by an idle buffer (0 before the first take). */
  get reuseRatio(): number {
    return this.takes === 0 ? 0 : this.reuses / this.takes;
  }

  /** A buffer of at least `bytes` (its class size); its contents are arbitrary. Give it back once, when nothing views it. */
  take(bytes: number): Buffer {
    assert.ok(Number.isSafeInteger(bytes) && bytes > 0, `bytes ${bytes}`);
    const size = Math.max(READ_BUFFER_BYTES_MIN, 2 ** Math.ceil(Math.log2(bytes)));
    this.takes++;
    const list = this.idle.get(size);
    if (list !== undefined && list.length > 0) {
      this.idleBytesTotal -= size;
      this.reuses++;
      return list.pop()!;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives back a buffer from take(). No view of it may be used after. */
  give(buf: Buffer): void {
    const size = buf.length;
    if (this.idleBytesTotal + size > this.idleBytesMax) return;
    let list = this.idle.get(size);
    if (list === undefined) {
      list = [];
      this.idle.set(size, list);
    }
    list.push(buf);
    this.idleBytesTotal += size;
  }

  /** Drops every idle buffer (for the garbage collector). */
  clear(): void {
    this.idle.clear();
    this.idleBytesTotal = 0;
  }
}

/** The process's pool: every log's reads share it. */
export const readBuffers = new ReadBufferPool();
