// One read stream on one connection: pulls committed blocks from the store and
// sends them as ReadData frames of about readFrameBytes (each one WebSocket
// message, in fragments: session.sendMessage), while the reader has
// credit and the socket is below its high-water mark; then ReadEnd. A frame
// never spans two read windows: each window's blocks go out before the next is
// read into the same memory, the first window's however few.
import { encodeFrame } from '../../../schemas/ts/codec.js';
import type { BlockHeader } from '../../../schemas/ts/messages.js';
import type { StoredBlock } from '../shuffle/shuffle-service.js';
import type { Message } from '../../../schemas/ts/messages.js';
import type { ServerMetrics } from '../metrics.js';

/** What a read stream needs of its connection (net/session.ts implements it). */
export interface StreamConnection {
  readonly closed: boolean;
  readonly metrics: ServerMetrics;
  backpressured(): boolean;
  /** One message: `head`, then the bytes of `body` (read during the call only). */
  sendMessage(head: Buffer, body: readonly Uint8Array[]): void;
  answer(requestId: number, message: Message): void;
  answerError(requestId: number, err: unknown): void;
  endStream(requestId: number): void;
  /** Closes the connection as a failing network would (injected faults only). */
  cut(): void;
}

export class ReadStream {
  private credit: number;
  private cancelled = false;
  private wake: (() => void) | null = null;
  private blocksSent = 0;
  private bytesSent = 0;

  constructor(
    private readonly session: StreamConnection,
    readonly requestId: number,
    /** Arrays of blocks, each array's data valid until the next is asked for (shuffle.ts readBlocks()). */
    private readonly blocks: AsyncGenerator<StoredBlock[]>,
    initialCredit: number,
    private readonly frameBytes: number,
    /** Injected fault (engine/faults.ts): cut the connection instead of sending a second frame. */
    private readonly cutBeforeSecondFrame = false,
    /** Count what is sent in the shuffle read metrics (object reads count their own). */
    private readonly shuffleMetrics = true,
  ) {
    this.credit = initialCredit;
  }

  addCredit(bytes: number): void {
    this.credit += bytes;
    this.notify();
  }

  cancel(): void {
    this.cancelled = true;
    this.notify();
  }

  /** Socket drained or credit arrived: let a waiting send go on. */
  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private get stopped(): boolean {
    return this.cancelled || this.session.closed;
  }

  async run(): Promise<void> {
    let headers: BlockHeader[] = [];
    let parts: Buffer[] = [];
    let bytes = 0;
    const send = async (): Promise<boolean> => {
      while (!this.stopped && (this.credit <= 0 || this.session.backpressured())) {
        await new Promise<void>((resolve) => { this.wake = resolve; });
      }
      if (this.stopped) return false;
      if (this.cutBeforeSecondFrame && this.blocksSent > 0) {
        this.session.cut();
        return false;
      }
      this.session.sendMessage(encodeFrame(this.requestId, { type: 'ReadData', blocks: headers }), parts);
      this.credit -= bytes;
      this.blocksSent += headers.length;
      this.bytesSent += bytes;
      if (this.shuffleMetrics) {
        this.session.metrics.readBlocks.inc(headers.length);
        this.session.metrics.readBytes.inc(bytes);
      }
      headers = [];
      parts = [];
      bytes = 0;
      return true;
    };
    try {
      let sending = true;
      for await (const window of this.blocks) {
        for (const b of window) {
          if (this.stopped || (bytes > 0 && bytes + b.data.length > this.frameBytes && !(await send()))) {
            sending = false;
            break;
          }
          headers.push(b.header);
          parts.push(b.data); // valid until the next window is asked for; uWS copies them when sent
          bytes += b.data.length;
        }
        if (!sending || this.stopped) break;
        // A window's blocks go out before the next window is asked for: its
        // memory is then read into again (shuffle.ts readBlocks()). So the first
        // frame also leaves with the first window's blocks, not once a whole
        // frame is read, and the reader starts on them while the next windows are read.
        if (bytes > 0 && !(await send())) {
          sending = false;
          break;
        }
      }
      if (sending && !this.stopped && (bytes === 0 || (await send()))) {
        this.session.answer(this.requestId, { type: 'ReadEnd', blockCount: this.blocksSent, byteCount: this.bytesSent });
      }
    } catch (err) {
      if (!this.session.closed) this.session.answerError(this.requestId, err);
    } finally {
      this.session.endStream(this.requestId);
    }
  }
}
