// ReadData sent into a socket that keeps filling up arrives whole, frame by frame.
//
// The failure this covers: readers on busy machines failed with MALFORMED_FRAME
// ("reserved bits set"): the server had sent a WebSocket frame header and then
// not its payload. The uWS build in use drops the payload of a frame of 16 KiB
// or more when it sends it by its zero-copy shortcut and the kernel takes no
// more than the header; net/session.ts NO_SHORTCUT_TOPIC keeps every connection
// off that shortcut.
//
// The server side is a real uWS app whose connection is a real Session, and the
// messages go through Session.sendMessage as read-stream.ts sends them: a
// ReadData head, then block data, each block of 32 KiB or more a fragment of its
// own. The client is a raw socket on the same event loop that reads up to 1 MiB
// at a time and answers each read with one small frame (a read stream's credit,
// in effect). A burst of messages is sent whenever uWS has nothing queued for the
// socket; while the loop sends it, nothing reads (sender and reader share one
// thread), so the kernel's buffer fills in the middle of it. That is the state
// the shortcut mishandles, and a new connection, with the kernel's small initial
// socket buffers, meets it often. The test sends a fixed number of messages on
// each of a few connections and checks every frame header and every message's
// bytes; nothing waits for a time. On the 2-core development VM, 20 of 20 runs
// without the fix failed, mostly within the first connection's first few
// hundred messages and with the field's symptom, a header with reserved bits.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type * as UwsTypes from 'uWebSockets.js';
import { decodeFrame, encodeFrame } from '../../../schemas/ts/codec.js';
import { Codec, type BlockHeader } from '../../../schemas/ts/messages.js';
import type { ServerConfig } from '../../src/config.js';
import { FRAME_BYTES_MAX, SOCKET_BACKPRESSURE_BYTES_MAX } from '../../src/limits.js';
import type { Logger } from '../../src/logger.js';
import type { ServerMetrics } from '../../src/metrics.js';
import type { ObjectService } from '../../src/objects/object-service.js';
import { Session, type SessionData } from '../../src/net/session.js';
import { loadUws } from '../../src/net/uws.js';
import type { ShuffleService } from '../../src/shuffle/shuffle-service.js';

const MESSAGES = 600;
/** Connections, one after another. */
const CONNECTIONS = 6;
/** Messages sent per burst, each time uWS has nothing queued: about 2 MB, more than the socket takes at once. */
const BURST_MESSAGES = 4;
/** Block sizes of one message: one small block (copied with the head), the rest fragments of their own. */
const BLOCK_BYTES = [1500, 40_000, 70_000, 100_000, 33_000, 150_000, 36_000, 90_000];
const READ_BUFFER_BYTES = 1024 * 1024;
const REQUEST_ID = 7;

interface Sent {
  headers: BlockHeader[];
  body: Buffer;
}
/** Put in the place of a message once it was checked, so its bytes can be collected. */
const FREED: Sent = { headers: [], body: Buffer.alloc(0) };

function message(seq: number): Sent {
  const parts = BLOCK_BYTES.map((n, i) => {
    const b = Buffer.alloc(n, (seq * 31 + i) & 0xff);
    b.writeUInt32LE(seq, 0);
    b.writeUInt32LE(i, 4);
    return b;
  });
  const headers = parts.map((b, i): BlockHeader => ({
    attempt: 0, mapId: seq, partition: 0, batch: i, seq: 0, rawLength: b.length, storedLength: b.length, crc32c: 0, codec: Codec.NONE,
  }));
  return { headers, body: Buffer.concat(parts) };
}

/** A raw WebSocket client reading frames and putting messages together; records the first thing that is wrong. */
class FrameChecker {
  private head = Buffer.alloc(0);
  private upgraded = false;
  private header: number[] = [];
  private payloadLeft = 0;
  private inMessage = false;
  /** The frame being read ends its message. */
  private lastFrame = false;
  private parts: Buffer[] = [];
  received = 0;
  wrong: string | null = null;

  constructor(private readonly expected: Sent[], private readonly onMessage: () => void) {}

  feed(chunk: Buffer): void {
    if (this.wrong !== null) return;
    if (!this.upgraded) {
      this.head = Buffer.concat([this.head, chunk]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.upgraded = true;
      chunk = this.head.subarray(end + 4);
    }
    let i = 0;
    while (i < chunk.length && this.wrong === null) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.parts.push(Buffer.from(chunk.subarray(i, i + n)));
        i += n;
        this.payloadLeft -= n;
        if (this.payloadLeft === 0 && this.lastFrame) this.messageDone();
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length < 2) continue;
      const len7 = this.header[1]! & 0x7f;
      if (this.header.length < 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0)) continue;
      const h = Buffer.from(this.header);
      this.header = [];
      this.frame(h, len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7);
      if (this.payloadLeft === 0 && this.lastFrame && this.wrong === null) this.messageDone();
    }
  }

  private frame(h: Buffer, length: number): void {
    const fin = (h[0]! & 0x80) !== 0;
    const op = h[0]! & 0x0f;
    const at = `message ${this.received}, frame header ${h.toString('hex')}`;
    if ((h[0]! & 0x70) !== 0) this.wrong = `${at}: reserved bits set`;
    else if ((h[1]! & 0x80) !== 0) this.wrong = `${at}: masked`;
    else if (op !== (this.inMessage ? 0 : 2)) this.wrong = `${at}: opcode ${op} ${this.inMessage ? 'inside' : 'outside'} a message`;
    else if (length > FRAME_BYTES_MAX) this.wrong = `${at}: a frame of ${length} bytes`;
    if (this.wrong !== null) return;
    this.inMessage = !fin;
    this.lastFrame = fin;
    this.payloadLeft = length;
  }

  private messageDone(): void {
    this.lastFrame = false;
    const data = Buffer.concat(this.parts);
    this.parts = [];
    const want = this.expected[this.received];
    try {
      const f = decodeFrame(data);
      if (want === undefined) throw new Error('a message that was not sent');
      if (f.requestId !== REQUEST_ID || f.message.type !== 'ReadData') throw new Error(`a ${f.message.type} for request ${f.requestId}`);
      if (JSON.stringify(f.message.blocks) !== JSON.stringify(want.headers)) throw new Error('other block headers');
      if (!f.body.equals(want.body)) throw new Error('other block bytes');
    } catch (err) {
      this.wrong = `message ${this.received} (${data.length} bytes): ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    this.expected[this.received] = FREED;
    this.received++;
    this.onMessage();
  }
}

test('ReadData frames stay whole when the socket fills up in the middle of a send', async (t) => {
  const uws = loadUws(false);
  // What a Session needs besides its socket, for sending only.
  const service = { openPushWindow: () => ({ close: () => undefined }) } as unknown as ShuffleService;
  const log = { warn: () => undefined, error: () => undefined, info: () => undefined } as unknown as Logger;
  /** Per connection: the messages sent, in order, until the client has checked them. */
  const sentBy = new Map<Session, Sent[]>();
  let expected: Sent[] = [];

  /** Sends a burst of messages if uWS has nothing queued for the socket (as read streams with credit would). */
  const pump = (ws: UwsTypes.WebSocket<SessionData>): void => {
    const session = ws.getUserData().session;
    const sent = session === null ? undefined : sentBy.get(session);
    if (session === null || sent === undefined || session.closed) return;
    for (let k = 0; k < BURST_MESSAGES && sent.length < MESSAGES && ws.getBufferedAmount() === 0; k++) {
      const m = message(sent.length);
      sent.push(m);
      const parts: Buffer[] = [];
      let at = 0;
      for (const n of BLOCK_BYTES) {
        parts.push(m.body.subarray(at, at + n));
        at += n;
      }
      session.sendMessage(encodeFrame(REQUEST_ID, { type: 'ReadData', blocks: m.headers }), parts);
    }
  };

  const app = uws.App();
  app.ws<SessionData>('/ws', {
    compression: uws.DISABLED,
    maxPayloadLength: 1024,
    maxBackpressure: SOCKET_BACKPRESSURE_BYTES_MAX,
    idleTimeout: 120,
    upgrade: (res, req, context) => {
      res.upgrade<SessionData>({ session: null, remote: 'test' }, req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      const session = new Session(ws, service, {} as ObjectService, {} as ServerConfig, {} as ServerMetrics, log, null);
      ws.getUserData().session = session;
      sentBy.set(session, expected);
      pump(ws);
    },
    message: (ws) => pump(ws),
    drain: (ws) => pump(ws),
    close: (ws) => ws.getUserData().session?.onClose(),
  });
  const listening = await new Promise<UwsTypes.us_listen_socket>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('cannot listen')) : resolve(s)));
  });
  const port = uws.us_socket_local_port(listening as unknown as UwsTypes.us_socket);

  try {
    // One connection after another: each starts with the kernel's small socket buffers again.
    for (let c = 0; c < CONNECTIONS; c++) {
      expected = [];
      const outcome = await receive(port, expected);
      t.is(outcome.wrong, null, `connection ${c}`);
      t.is(outcome.received, MESSAGES, `connection ${c}`);
      if (outcome.wrong !== null) break;
    }
  } finally {
    uws.us_listen_socket_close(listening);
  }
});

/** Opens a connection and checks what arrives until MESSAGES messages did, or something was wrong, or it closed. */
function receive(port: number, expected: Sent[]): Promise<FrameChecker> {
  return new Promise<FrameChecker>((resolve, reject) => {
    let client: Socket | null = null;
    const done = (checker: FrameChecker): void => {
      client?.destroy();
      resolve(checker);
    };
    const checker = new FrameChecker(expected, () => {
      if (checker.received === MESSAGES) done(checker);
    });
    const credit = Buffer.from([0x82, 0x80, 0, 0, 0, 0]); // an empty masked binary frame
    client = connect({
      host: '127.0.0.1', port,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => {
          checker.feed(Buffer.from(buf.subarray(0, n)));
          if (checker.wrong !== null) done(checker);
          else if (checker.received < MESSAGES) client!.write(credit);
          return true;
        },
      },
    });
    client.setNoDelay(true);
    client.on('error', reject);
    client.on('close', () => resolve(checker));
    client.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}
