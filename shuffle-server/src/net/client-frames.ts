// Client frame headers as RFC 6455 section 5.2 lays them out, read by the frame
// guard (frame-guard.ts) before uWebSockets.js sees a frame: which header breaks
// the rules (unmasked, too big, reserved bits, bad opcodes, invalid UTF-8 text),
// and the client close frame that refuses it.
import { TextDecoder } from 'node:util';


export interface Violation {
  /** Close status: 1002 protocol error, 1007 invalid text, 1009 message too big. */
  code: 1002 | 1007 | 1009;
  /** At most 123 bytes of ASCII (a close frame's payload is at most 125). */
  reason: string;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PONG = 0xa;
/** Masked, fin, text, length 0, key 0: what uWS gets for a whole text message (below). */
const EMPTY_TEXT_FRAME = Buffer.from([0x81, 0x80, 0, 0, 0, 0]);

/** A masked (all-zero key) close frame as a client would send it. */
export function clientCloseFrame(v: Violation): Buffer {
  const reason = Buffer.from(v.reason, 'latin1').subarray(0, 123);
  const frame = Buffer.alloc(8 + reason.length);
  frame[0] = 0x80 | OP_CLOSE;
  frame[1] = 0x80 | (2 + reason.length);
  frame.writeUInt16BE(v.code, 6);
  reason.copy(frame, 8);
  return frame;
}

/**
 * Reads client frames as they stream by and says which bytes uWS may see. A
 * frame is passed on only once its whole header is known to be valid; its
 * payload then streams through untouched. Text messages are the exception:
 * Pegasus refuses them anyway (MALFORMED_FRAME), but uWS closes without a
 * close frame when one is not valid UTF-8, so the guard consumes them, checks
 * the UTF-8 itself, and passes on an empty text message in their place.
 */
export class ClientFrames {
  /** The current header while it is read (2 to 14 bytes). */
  private readonly header = Buffer.alloc(14);
  private headerBytes = 0;
  /** The masking key of the current frame. */
  private readonly key = Buffer.alloc(4);
  private payloadLeft = 0;
  private payloadOffset = 0;
  private consuming = false;
  private messageOpen = false;
  private messageBytes = 0;
  /** Non-null while inside a text message. */
  private text: TextDecoder | null = null;
  private failed = false;

  constructor(private readonly payloadBytesMax: number) {}

  /** Passes on (through `out`, in order) what uWS may see of `chunk`; returns the first violation, after which nothing more is passed. */
  feed(chunk: Buffer, out: (bytes: Buffer) => void): Violation | null {
    if (this.failed) return null;
    // Bytes [passFrom, i) of chunk are to be passed on; -1 while nothing is.
    let passFrom = this.consuming || this.headerBytes > 0 ? -1 : 0;
    // Where the header being read starts in this chunk (0 when it began in an earlier one).
    let headerStart = 0;
    const flush = (to: number): void => {
      if (passFrom >= 0 && to > passFrom) out(chunk.subarray(passFrom, to));
      passFrom = -1;
    };
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        if (this.text !== null && this.consuming && !this.checkText(chunk, i, n)) return this.fail({ code: 1007, reason: 'text message is not valid UTF-8' });
        i += n;
        this.payloadLeft -= n;
        this.payloadOffset += n;
        if (this.payloadLeft > 0) continue;
      } else {
        if (this.headerBytes === 0) headerStart = i;
        const carried = this.headerBytes - (i - headerStart);
        this.header[this.headerBytes++] = chunk[i++]!;
        const v = this.checkPrefix();
        if (v !== null) {
          flush(headerStart);
          return this.fail(v);
        }
        if (this.headerBytes < this.headerLength()) continue;
        const frame = this.readHeader();
        if ('code' in frame) {
          flush(headerStart);
          return this.fail(frame);
        }
        this.headerBytes = 0;
        this.payloadLeft = frame.payloadBytes;
        this.payloadOffset = 0;
        this.consuming = frame.consume;
        if (frame.consume) flush(headerStart);
        else if (passFrom < 0) {
          // The header began in an earlier chunk.
          if (carried > 0) out(Buffer.from(this.header.subarray(0, carried)));
          passFrom = headerStart;
        }
        if (this.payloadLeft > 0) continue;
      }
      // A frame ended at i.
      if (this.consuming) {
        this.consuming = false;
        if (!this.messageOpen && this.text !== null) {
          const valid = this.checkText(chunk, i, 0, true);
          this.text = null;
          if (!valid) return this.fail({ code: 1007, reason: 'text message is not valid UTF-8' });
          out(EMPTY_TEXT_FRAME);
        }
        passFrom = i;
      }
    }
    if (this.headerBytes > 0) flush(headerStart);
    else flush(chunk.length);
    return null;
  }

  private fail(v: Violation): Violation {
    this.failed = true;
    return v;
  }

  /** Header length once the second byte is known: 2, 4 or 10 bytes, plus the 4-byte key. */
  private headerLength(): number {
    if (this.headerBytes < 2) return 2;
    const len7 = this.header[1]! & 0x7f;
    return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + 4;
  }

  /** Rules that the first two bytes already decide. */
  private checkPrefix(): Violation | null {
    if (this.headerBytes !== 2) return null;
    const b0 = this.header[0]!;
    const b1 = this.header[1]!;
    const op = b0 & 0x0f;
    if ((b1 & 0x80) === 0) return { code: 1002, reason: 'client frame not masked (RFC 6455 section 5.1)' };
    if ((b0 & 0x70) !== 0) return { code: 1002, reason: 'reserved bits set; no extension was negotiated' };
    if (op > OP_BINARY && (op < OP_CLOSE || op > OP_PONG)) return { code: 1002, reason: `opcode ${op} is not defined` };
    if (op >= OP_CLOSE) {
      if ((b0 & 0x80) === 0) return { code: 1002, reason: 'control frame fragmented' };
      if ((b1 & 0x7f) > 125) return { code: 1002, reason: 'control frame payload over 125 bytes' };
    } else if (op === OP_CONTINUATION) {
      if (!this.messageOpen) return { code: 1002, reason: 'continuation frame without a fragmented message' };
    } else if (this.messageOpen) {
      return { code: 1002, reason: 'data frame inside a fragmented message' };
    }
    return null;
  }

  /** The whole header: the payload length, the size limit, and what to do with the frame. */
  private readHeader(): { payloadBytes: number; consume: boolean } | Violation {
    const h = this.header;
    const length = this.headerLength();
    h.copy(this.key, 0, length - 4, length);
    const fin = (h[0]! & 0x80) !== 0;
    const op = h[0]! & 0x0f;
    const len7 = h[1]! & 0x7f;
    let payloadBytes: number;
    if (len7 < 126) payloadBytes = len7;
    else if (len7 === 126) payloadBytes = h.readUInt16BE(2);
    else {
      const high = h.readUInt32BE(2);
      if (high >= 0x8000_0000) return { code: 1002, reason: 'payload length has its most significant bit set' };
      payloadBytes = high * 2 ** 32 + h.readUInt32BE(6);
    }
    if (op >= OP_CLOSE) return { payloadBytes, consume: false };
    const messageBytes = (op === OP_CONTINUATION ? this.messageBytes : 0) + payloadBytes;
    if (messageBytes > this.payloadBytesMax) {
      return {
        code: 1009,
        reason: op === OP_CONTINUATION || !fin
          ? `fragmented message of ${messageBytes} bytes or more; the largest taken is ${this.payloadBytesMax}`
          : `frame of ${payloadBytes} bytes; the largest taken is ${this.payloadBytesMax}`,
      };
    }
    this.messageBytes = messageBytes;
    this.messageOpen = !fin;
    if (op === OP_TEXT) this.text = new TextDecoder('utf-8', { fatal: true });
    return { payloadBytes, consume: this.text !== null };
  }

  /** Feeds n payload bytes at chunk[i] (unmasked) to the text decoder; `end` finishes the message. */
  private checkText(chunk: Buffer, i: number, n: number, end = false): boolean {
    try {
      if (end) {
        this.text!.decode();
        return true;
      }
      const plain = Buffer.allocUnsafe(n);
      for (let j = 0; j < n; j++) plain[j] = chunk[i + j]! ^ this.key[(this.payloadOffset + j) & 3]!;
      this.text!.decode(plain, { stream: true });
      return true;
    } catch {
      return false;
    }
  }
}
