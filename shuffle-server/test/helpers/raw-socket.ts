// A WebSocket peer over a bare TCP socket, for tests of what no client library
// would send: unmasked frames, lengths it does not mean to send, reserved bits,
// any Origin. It writes frames byte by byte as told and reads the server's
// frames, its FIN and any reset as they come. Every wait is bounded.
import { connect, type Socket } from 'node:net';

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The upgraded connection when the status is 101, else null (the socket is closed). */
  ws: RawWebSocket | null;
}

export const OP = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

const WAIT_MS = 30_000;

/** Bytes of a client frame header: FIN, RSV and opcode, MASK, the length as announced, and the all-zero key when masked. */
export function frameHeader(opcode: number, length: number, o: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const fin = o.fin ?? true;
  const masked = o.masked ?? true;
  const ext = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const h = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  h[0] = (fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  h[1] = (masked ? 0x80 : 0) | (ext === 0 ? length : ext === 2 ? 126 : 127);
  if (ext === 2) h.writeUInt16BE(length, 2);
  if (ext === 8) h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** A whole client frame; masked with the all-zero key (the payload goes as is) unless told otherwise. */
export function clientFrame(opcode: number, payload: Buffer, o: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  return Buffer.concat([frameHeader(opcode, payload.length, o), payload]);
}

/**
 * Sends an HTTP/1.1 upgrade request for `path` with the given extra headers
 * (`null` value: leave the header out) and reads the answer.
 */
export async function rawUpgrade(address: string, extra: Record<string, string> = {}, path = '/ws'): Promise<HttpAnswer> {
  const [host, port] = splitAddress(address);
  const socket = connect(port, host);
  socket.setNoDelay(true);
  const lines = [
    `GET ${path} HTTP/1.1`, `Host: ${address}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return readAnswer(socket);
}

/** Opens a bare TCP connection (for several HTTP requests on one connection). */
export function rawConnect(address: string): Socket {
  const [host, port] = splitAddress(address);
  return connect(port, host);
}

/** Writes `request` on an open connection and reads the HTTP answer; the socket stays open unless upgraded. */
export function httpExchange(socket: Socket, request: string | Buffer): Promise<HttpAnswer> {
  socket.write(request);
  return readAnswer(socket, true);
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** Reads one HTTP response head and its Content-Length body; with `keep`, leaves the socket open. */
function readAnswer(socket: Socket, keep = false): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no HTTP answer in ${WAIT_MS} ms`)), WAIT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...headerLines] = buf.toString('latin1', 0, end).split('\r\n');
      const status = Number(statusLine!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of headerLines) {
        const c = l.indexOf(':');
        headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      const bodyBytes = status === 101 ? 0 : Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + bodyBytes) return;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', fail);
      socket.removeListener('end', onEnd);
      const body = buf.toString('utf8', end + 4, end + 4 + bodyBytes);
      const rest = buf.subarray(end + 4 + bodyBytes);
      if (status === 101) resolve({ status, headers, body, ws: new RawWebSocket(socket, rest) });
      else {
        if (!keep) socket.destroy();
        resolve({ status, headers, body, ws: null });
      }
    };
    const onEnd = (): void => fail(new Error(`connection ended before a whole HTTP answer: ${buf.toString('latin1')}`));
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('end', onEnd);
  });
}

/** An upgraded connection: raw writes out, parsed server frames in. */
export class RawWebSocket {
  private buf: Buffer;
  private readonly frames: ServerFrame[] = [];
  private readonly waiters: Array<() => void> = [];
  /** True once the server's FIN arrived. */
  ended = false;
  /** The socket error, if any (ECONNRESET: the server reset the connection). */
  error: NodeJS.ErrnoException | null = null;
  closed = false;

  constructor(readonly socket: Socket, rest: Buffer) {
    this.buf = rest;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.parse();
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      // A write the server cut off by closing is not an error of the test itself.
      this.socket.write(bytes, () => resolve());
    });
  }

  /** The next server frame, or null once the server ended or reset the connection. */
  async next(timeoutMs = WAIT_MS): Promise<ServerFrame | null> {
    await this.until(() => this.frames.length > 0 || this.ended || this.closed, timeoutMs, 'a frame from the server');
    return this.frames.shift() ?? null;
  }

  /** Skips other frames up to the server's close frame; null when the connection ended without one. */
  async closeFrame(timeoutMs = WAIT_MS): Promise<{ code: number; reason: string } | null> {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f === null) return null;
      if (f.opcode === OP.CLOSE) {
        return f.payload.length >= 2 ? { code: f.payload.readUInt16BE(0), reason: f.payload.toString('utf8', 2) } : { code: 1005, reason: '' };
      }
    }
  }

  /** Waits until the connection is over: the server's FIN, a reset, or the socket closed. */
  async finished(timeoutMs = WAIT_MS): Promise<void> {
    await this.until(() => this.ended || this.closed || this.error !== null, timeoutMs, 'the end of the connection');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const len7 = this.buf[1]! & 0x7f;
      const ext = len7 < 126 ? 0 : len7 === 126 ? 2 : 8;
      if (this.buf.length < 2 + ext) return;
      const length = ext === 0 ? len7 : ext === 2 ? this.buf.readUInt16BE(2) : Number(this.buf.readBigUInt64BE(2));
      if (this.buf.length < 2 + ext + length) return;
      this.frames.push({
        fin: (this.buf[0]! & 0x80) !== 0,
        opcode: this.buf[0]! & 0x0f,
        payload: Buffer.from(this.buf.subarray(2 + ext, 2 + ext + length)),
      });
      this.buf = this.buf.subarray(2 + ext + length);
      this.wake();
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
