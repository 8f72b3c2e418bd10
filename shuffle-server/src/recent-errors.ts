// The most recent errors answered to clients, for GET /api/v1/errors: a ring of
// at most RECENT_ERRORS_MAX entries, so a storm of errors costs a fixed amount
// of memory. Filled where errors are counted (ServerMetrics.error).
import { RECENT_ERRORS_MAX, RECENT_ERROR_MESSAGE_CHARS_MAX } from './limits.js';

export interface RecentError {
  atMs: number;
  code: string;
  message: string;
}

export class RecentErrors {
  private readonly ring: RecentError[] = [];
  /** Slot of the next entry once the ring is full. */
  private next = 0;

  constructor(private readonly capacity = RECENT_ERRORS_MAX) {}

  add(code: string, message: string, atMs = Date.now()): void {
    const entry = { atMs, code, message: message.length > RECENT_ERROR_MESSAGE_CHARS_MAX ? `${message.slice(0, RECENT_ERROR_MESSAGE_CHARS_MAX)}…` : message };
    if (this.ring.length < this.capacity) {
      this.ring.push(entry);
      return;
    }
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  list(): RecentError[] {
    const n = this.ring.length;
    const out: RecentError[] = [];
    // With a full ring the newest is just before `next`; else it is the last pushed.
    const newest = n < this.capacity ? n - 1 : (this.next - 1 + n) % n;
    for (let i = 0; i < n; i++) out.push(this.ring[(newest - i + n) % n]!);
    return out;
  }
}
