// The frame guard: a TCP front for uWebSockets.js (uws.ts starts it when config
// frameGuard is on) that reads every client frame header before uWS does.
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
// more and passes through the guard. Measured on the 2-core development
// machine with 1 MiB messages: uWS alone 0.39 CPU-s per GiB received, behind
// the guard 1.35 (most of the difference is kernel time in the extra loopback
// hop). The guard therefore runs on a thread of its own
// (frame-guard-thread.ts), off the event loop. A uWS built with the two checks
// would cost nothing; this needs no fork of it. Not a Unix socket to uWS: its small send
// buffer (about 200 KiB) makes uWS hold megabytes of backpressure and shift
// them with memmove on every partial write, which cost far more.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type * as UwsTypes from 'uWebSockets.js';

import {
  FRAME_GUARD_CLOSE_LINGER_MS as CLOSE_LINGER_MS, FRAME_GUARD_HEAD_BYTES_MAX as HEAD_BYTES_MAX,
  FRAME_GUARD_READ_BUFFER_BYTES as READ_BUFFER_BYTES, FRAME_GUARD_READ_BUFFERS_POOLED_MAX as READ_BUFFERS_POOLED_MAX,
} from '../limits.js';
import { ClientFrames, clientCloseFrame, type Violation } from './client-frames.js';

/** Where uWS itself listens (port 0: any free port), reached only through the guard. */
export const UPSTREAM_HOST = '127.0.0.1';
/** Request header by which the guard marks the upgrades it inspected: `<secret> <client address>`. */
const GUARD_HEADER = 'x-pegasus-frame-guard';
/** This process's secret; the guard's thread is given it (frame-guard-thread.ts). */
export const GUARD_SECRET = randomBytes(16).toString('hex');

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

/** One TCP listener, one GuardedConnection per client. */
export class FrameGuard {
  private readonly server: Server;

  /** `secret`: the GUARD_SECRET of the process whose uWS checks guardedRemote() (passed in, as the guard may run on a thread of its own). */
  constructor(upstreamPort: number, payloadBytesMax: (urlPath: string) => number | null, secret: string) {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      new GuardedConnection(client, upstreamPort, payloadBytesMax, secret);
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
    private readonly secret: string,
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
    const mark = `${GUARD_HEADER}: ${this.secret} ${this.client.remoteAddress ?? ''}\r\n`;
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
