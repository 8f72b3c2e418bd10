// Loads uWebSockets.js as Pegasus runs it: the native binary only, and every
// TCP connection fronted by the frame guard below.
//
// Why a guard. uWS (v20.43, the C++ under this package) does not do two
// things RFC 6455 asks of a server, and has no option or hook for them:
// - It never looks at the MASK bit of a client frame: WebSocketProtocol.h reads
//   the length as `src[1] & 127` and always takes the 4 bytes after it as the
//   masking key. An unmasked frame is read 4 bytes too long (its first 4
//   payload bytes become the "key") and uWS waits for 4 bytes the client never
//   sends: no message, no close. Section 5.1: the server MUST close.
// - A frame, or fragmented message, longer than the route's maxPayloadLength
//   makes it call us_socket_close() on the TCP socket as soon as it reads the
//   header (WebSocketContext::forceClose): no close frame, no status code; and
//   with the rest of the frame unread, the kernel resets the connection, which
//   can also discard answers already sent.
// Raw bytes never reach JavaScript, so the checks sit in front of uWS: the
// guard is a Node TCP server on the configured host and port, and uWS listens
// on a free port of 127.0.0.1 that only the guard connects to. The guard
// passes bytes through unchanged; on a WebSocket it reads each client frame
// header (not the payload) before uWS sees the frame. When a header breaks the
// rules, the guard withholds that frame and all after it and writes to uWS in
// its place a client close frame with the status code and a reason (1002
// protocol error, 1009 too big, 1007 bad UTF-8). uWS treats that as the
// client's close: it sends a close frame with the same code and reason after
// its answers to the earlier frames, calls the close handler with them, and
// ends the connection. The guard then ends the client's socket and reads and
// drops what the client still sends (for CLOSE_LINGER_MS at most), so that no
// reset cuts the close frame off.
//
// uWS drops bytes that arrive in the same read as the upgrade request, so the
// guard holds the client's bytes after that request until uWS has answered it.
// And it marks each upgrade request it inspected with a header carrying a
// per-process secret and the client's address (guardedRemote()): the upgrade
// handler refuses upgrades without it, such as one sent on a connection after
// plain HTTP requests (the guard reads only a connection's first request), or
// one sent straight to uWS's loopback port.
//
// The cost: each byte through the port, either way, crosses loopback TCP once
// more and passes through the event loop. Measured on the 2-core development
// machine: about 0.25 CPU seconds more per GB read and 0.65 per GB written, and
// `npm run bench` ingest and WebSocket reads about 40% slower (client and
// server share the cores there). A uWS built with the two checks would cost
// nothing; this needs no fork of it. Not a Unix socket to uWS: its small send
// buffer (about 200 KiB) makes uWS hold megabytes of backpressure and shift
// them with memmove on every partial write, which cost far more.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { TextDecoder } from 'node:util';
import type * as UwsTypes from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UwsTypes;

/** Longest HTTP request head the guard reads to see whether it is an upgrade (uWS itself refuses heads over 4 KiB). */
const HEAD_BYTES_MAX = 16 * 1024;
/** How long, after ending a client's socket, the guard waits for the client to close before dropping it. */
const CLOSE_LINGER_MS = 10_000;
/** Size of one read from uWS's side (one buffer of the pool). */
const READ_BUFFER_BYTES = 1024 * 1024;
/** Most idle read buffers kept for reuse, over all connections. */
const READ_BUFFERS_POOLED_MAX = 16;
/** Where uWS itself listens (port 0: any free port), reached only through the guard. */
const UPSTREAM_HOST = '127.0.0.1';
/** uWS's maxPayloadLength when a route does not set one. */
const UWS_PAYLOAD_BYTES_DEFAULT = 16 * 1024;
/** Request header by which the guard marks the upgrades it inspected: `<secret> <client address>`. */
const GUARD_HEADER = 'x-pegasus-frame-guard';
const GUARD_SECRET = randomBytes(16).toString('hex');

/** uWS fronted by the frame guard: App().listen(host, port, cb) listens through it. */
export function loadUws(frameGuard: boolean): Uws {
  const uws = loadNative();
  return frameGuard ? guarded(uws) : uws;
}

/**
 * The client address of an upgrade request the frame guard inspected, or null
 * when the request did not come through it (then it must not be upgraded).
 */
export function guardedRemote(req: UwsTypes.HttpRequest): string | null {
  const value = Buffer.from(req.getHeader(GUARD_HEADER), 'latin1');
  const secret = Buffer.from(GUARD_SECRET, 'latin1');
  if (value.length <= secret.length || value[secret.length] !== 0x20) return null;
  if (!timingSafeEqual(value.subarray(0, secret.length), secret)) return null;
  return value.subarray(secret.length + 1).toString('latin1');
}

// The package ships native binaries for a few Node ABIs only; on any other
// Node it quietly falls back to a slow JS server with just a console warning.
// Pegasus pins Node 20 and would rather not start than run an order of
// magnitude slower.
function loadNative(): Uws {
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    require.resolve(binary);
  } catch {
    throw new Error(
      `uWebSockets.js has no native binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules} (Node ${process.versions.node}); ` +
      'Pegasus needs Node 20 and will not run on the slow fallback',
    );
  }
  return require('uWebSockets.js') as Uws;
}

// ---------------------------------------------------------------------------
// The uWS facade: App() records each WebSocket route's maxPayloadLength and
// listens through a guard; the listen-socket functions know the guard's token.

interface Listening {
  guard: FrameGuard;
  inner: UwsTypes.us_listen_socket;
}

function guarded(uws: Uws): Uws {
  const listening = new WeakMap<object, Listening>();
  const App = (options?: UwsTypes.AppOptions): UwsTypes.TemplatedApp => {
    // The native App() aborts the process when given an explicit undefined.
    const app = options === undefined ? uws.App() : uws.App(options);
    const payloadBytesMax = new Map<string, number>();
    const nativeWs = app.ws.bind(app);
    const nativeListen = app.listen.bind(app) as (host: string, port: number, cb: (s: UwsTypes.us_listen_socket | false) => void) => void;
    app.ws = <UserData>(pattern: UwsTypes.RecognizedString, behavior: UwsTypes.WebSocketBehavior<UserData>): UwsTypes.TemplatedApp => {
      if (typeof pattern !== 'string' || /[:*]/.test(pattern)) throw new Error(`the frame guard needs WebSocket routes without parameters or wildcards, got ${String(pattern)}`);
      payloadBytesMax.set(pattern, behavior.maxPayloadLength ?? UWS_PAYLOAD_BYTES_DEFAULT);
      nativeWs(pattern, behavior);
      return app;
    };
    app.listen = ((host: unknown, port: unknown, cb: unknown): UwsTypes.TemplatedApp => {
      if (typeof host !== 'string' || typeof port !== 'number' || typeof cb !== 'function') {
        throw new Error('the frame guard supports listen(host, port, cb) only');
      }
      const done = cb as (socket: UwsTypes.us_listen_socket | false) => void;
      nativeListen(UPSTREAM_HOST, 0, (inner) => {
        if (inner === false) {
          done(false);
          return;
        }
        const upstreamPort = uws.us_socket_local_port(inner as unknown as UwsTypes.us_socket);
        const guard = new FrameGuard(upstreamPort, (urlPath) => payloadBytesMax.get(urlPath) ?? null);
        guard.listen(host, port).then(
          () => {
            const token = {} as UwsTypes.us_listen_socket;
            listening.set(token, { guard, inner });
            done(token);
          },
          () => {
            uws.us_listen_socket_close(inner);
            done(false);
          },
        );
      });
      return app;
    }) as UwsTypes.TemplatedApp['listen'];
    return app;
  };
  return {
    ...uws,
    App,
    us_listen_socket_close: (socket: UwsTypes.us_listen_socket): void => {
      const l = listening.get(socket);
      if (l === undefined) {
        uws.us_listen_socket_close(socket);
        return;
      }
      listening.delete(socket);
      l.guard.close();
      uws.us_listen_socket_close(l.inner);
    },
    us_socket_local_port: (socket: UwsTypes.us_socket): number => {
      const l = listening.get(socket);
      return l === undefined ? uws.us_socket_local_port(socket) : l.guard.port;
    },
  };
}

// ---------------------------------------------------------------------------
// The guard: one TCP listener, one GuardedConnection per client.

class FrameGuard {
  private readonly server: Server;

  constructor(upstreamPort: number, payloadBytesMax: (urlPath: string) => number | null) {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      new GuardedConnection(client, upstreamPort, payloadBytesMax);
    });
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** Stops accepting; open connections go on, as with uWS's own listen socket. */
  close(): void {
    this.server.close();
  }
}

type Phase =
  | 'head' // reading the first request head
  | 'upgrading' // head passed on; client bytes held until uWS answers it
  | 'websocket' // upgraded: client frames checked
  | 'http' // anything else: bytes passed through unread
  | 'refused'; // a frame broke the rules: the close is under way, client bytes dropped

class GuardedConnection {
  private phase: Phase = 'head';
  private head: Buffer[] = [];
  private headBytes = 0;
  /** Client bytes that followed the upgrade request, held until uWS answered it. */
  private held: Buffer[] = [];
  /** The start of uWS's answer to the upgrade request, until its status line is complete. */
  private answer = Buffer.alloc(0);
  private payloadBytesMax = 0;
  private frames: ClientFrames | null = null;
  private upstreamFull = false;
  private upstreamGone = false;
  private clientEnded = false;
  private lingering = false;

  private readonly upstream: Socket;

  constructor(
    private readonly client: Socket,
    upstreamPort: number,
    private readonly routePayloadBytesMax: (urlPath: string) => number | null,
  ) {
    // uWS's bytes are read into pooled buffers, each back in the pool once the
    // client's socket has taken it: fewer, larger reads than Node's default of
    // a fresh 64 KiB buffer per read (about a fifth more read throughput).
    this.upstream = createConnection({
      host: UPSTREAM_HOST, port: upstreamPort, allowHalfOpen: true, noDelay: true,
      onread: { buffer: takeReadBuffer, callback: (n: number, buf: Uint8Array) => this.fromUpstream(buf as Buffer, n) },
    });
    const upstream = this.upstream;
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    client.on('end', () => {
      this.clientEnded = true;
      if (this.phase !== 'upgrading') this.upstream.end();
    });
    client.on('drain', () => this.upstream.resume());
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
    upstream.on('drain', () => {
      this.upstreamFull = false;
      this.flow();
    });
    upstream.on('end', () => this.endClient());
    upstream.on('close', () => {
      this.upstreamGone = true;
      this.flow();
      this.endClient();
    });
    upstream.on('error', () => {
      // 'close' follows
    });
  }

  private fromClient(chunk: Buffer): void {
    if (this.upstreamGone) return;
    switch (this.phase) {
      case 'head':
        this.readHead(chunk);
        return;
      case 'upgrading':
        this.held.push(chunk);
        return;
      case 'websocket': {
        const violation = this.frames!.feed(chunk, (bytes) => this.toUpstream(bytes));
        if (violation !== null) this.refuse(violation);
        return;
      }
      case 'http':
        this.toUpstream(chunk);
        return;
      case 'refused':
        return;
    }
  }

  private readHead(chunk: Buffer): void {
    this.head.push(chunk);
    this.headBytes += chunk.length;
    const bytes = this.head.length === 1 ? chunk : Buffer.concat(this.head, this.headBytes);
    this.head = [bytes];
    const end = bytes.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) {
      if (this.headBytes > HEAD_BYTES_MAX) this.passThrough(bytes);
      return;
    }
    const headText = bytes.toString('latin1', 0, end + 2);
    const urlPath = upgradePath(headText);
    const payloadBytesMax = urlPath === null ? null : this.routePayloadBytesMax(urlPath);
    if (payloadBytesMax === null) {
      this.passThrough(bytes);
      return;
    }
    this.head = [];
    this.payloadBytesMax = payloadBytesMax;
    const lineEnd = headText.indexOf('\r\n') + 2;
    const mark = `${GUARD_HEADER}: ${GUARD_SECRET} ${this.client.remoteAddress ?? ''}\r\n`;
    this.toUpstream(Buffer.from(headText.slice(0, lineEnd) + mark + headText.slice(lineEnd) + '\r\n', 'latin1'));
    this.phase = 'upgrading';
    if (end + 4 < bytes.length) this.held.push(bytes.subarray(end + 4));
    this.flow();
  }

  private passThrough(bytes: Buffer): void {
    this.head = [];
    this.phase = 'http';
    this.toUpstream(bytes);
  }

  private fromUpstream(buf: Buffer, n: number): boolean {
    const chunk = buf.subarray(0, n);
    if (this.phase === 'upgrading') {
      this.answer = Buffer.concat([this.answer, chunk]);
      const lineEnd = this.answer.indexOf('\r\n', 0, 'latin1');
      if (lineEnd >= 0) {
        const switched = /^HTTP\/1\.1 101 /.test(this.answer.toString('latin1', 0, lineEnd + 1));
        this.answer = Buffer.alloc(0);
        this.frames = switched ? new ClientFrames(this.payloadBytesMax) : null;
        this.phase = switched ? 'websocket' : 'http';
        const held = this.held;
        this.held = [];
        for (const bytes of held) this.fromClient(bytes);
        if (this.clientEnded) this.upstream.end();
        this.flow();
      }
    }
    if (this.client.write(chunk, () => giveReadBuffer(buf))) return true;
    this.upstream.pause();
    return false;
  }

  private toUpstream(bytes: Buffer): void {
    if (!this.upstream.write(bytes)) {
      this.upstreamFull = true;
      this.flow();
    }
  }

  /** Reads from the client unless uWS is behind or has not answered the upgrade yet; always once bytes are only dropped. */
  private flow(): void {
    const dropping = this.upstreamGone || this.phase === 'refused';
    if (dropping || (!this.upstreamFull && this.phase !== 'upgrading')) this.client.resume();
    else this.client.pause();
  }

  private refuse(v: Violation): void {
    this.phase = 'refused';
    this.frames = null;
    this.upstream.write(clientCloseFrame(v));
    this.upstream.end();
    this.flow();
  }

  /** uWS is done: end the client's socket once sent, and drop it if it does not close in time. */
  private endClient(): void {
    if (this.lingering) return;
    this.lingering = true;
    this.client.end();
    setTimeout(() => this.client.destroy(), CLOSE_LINGER_MS).unref();
  }

  private destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }
}

const readBuffers: Buffer[] = [];

function takeReadBuffer(): Buffer {
  return readBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
}

function giveReadBuffer(buf: Buffer): void {
  if (readBuffers.length < READ_BUFFERS_POOLED_MAX) readBuffers.push(buf);
}

/** The path of a request head that asks for a WebSocket upgrade, else null. */
function upgradePath(headText: string): string | null {
  const lines = headText.split('\r\n');
  const target = lines[0]!.split(' ')[1];
  if (target === undefined) return null;
  const upgrade = lines.slice(1).some((line) => {
    const colon = line.indexOf(':');
    return colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'upgrade'
      && line.slice(colon + 1).toLowerCase().split(',').some((p) => p.trim() === 'websocket');
  });
  if (!upgrade) return null;
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

// ---------------------------------------------------------------------------
// Client frame headers (RFC 6455 section 5.2).

interface Violation {
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
function clientCloseFrame(v: Violation): Buffer {
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
class ClientFrames {
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
