// A real TCP proxy between the client under test and a real pegasus-server,
// for network fault injection: it can stall forwarding, cut every connection,
// and, because it follows the WebSocket framing (RFC 6455) of what it relays,
// drop one message, replace one, or cut a connection right before or right
// after a chosen message. Nothing here speaks Pegasus: every answer the client
// sees comes from the real server (or is the real server's answer, altered in
// transit when a test says so).
//
// Each direction of a connection is an HTTP head (the upgrade request, the 101
// answer) followed by WebSocket frames. Data frames (binary, unfragmented) are
// shown to the direction's hook with their payload unmasked; control frames
// and heads always pass. Frames are forwarded as the original bytes unless
// replaced; a replacement is framed again, masked with a zero key when it
// travels client to server (FRAMING.md "Transport" allows that).
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * What happens to one message: 'forward' it, 'drop' it silently, 'cut' the
 * connection before it passes, 'deliver-then-cut' (it reaches its destination,
 * then the connection is cut before anything else passes either way), or
 * replace its payload with `replace`.
 */
export type Verdict = 'forward' | 'drop' | 'cut' | 'deliver-then-cut' | { replace: Buffer };

/** Sees one data message's payload; `connection` counts accepted connections from 0. */
export type MessageHook = (payload: Buffer, connection: number) => Verdict;

/** A WebSocket header is at most 2 + 8 (length) + 4 (mask key) bytes. */
const WS_HEADER_BYTES_MAX = 14;
const OPCODE_BINARY = 0x2;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** A head longer than this is not an HTTP upgrade; the proxy gives up on the connection. */
const HEAD_BYTES_MAX = 16 * 1024;
/** How long a half-closed ('deliver-then-cut') socket may linger before it is destroyed. */
const LINGER_MS = 2_000;

interface Unit {
  /** The bytes as they arrived: a head or one whole frame. */
  raw: Buffer;
  /** The unmasked payload of a final binary frame; undefined for heads and other frames. */
  payload: Buffer | undefined;
}

/** Reassembles one direction's byte stream into a head, then whole frames. */
class FrameSplitter {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private inHead = true;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** The next complete unit, or undefined until more bytes arrive. Throws on a runaway head. */
  next(): Unit | undefined {
    if (this.inHead) {
      const all = this.gather(this.bytes);
      const end = all.indexOf(HEAD_END);
      if (end < 0) {
        if (all.length > HEAD_BYTES_MAX) throw new Error(`no end of HTTP head in ${all.length} bytes`);
        return undefined;
      }
      this.inHead = false;
      return { raw: this.take(end + HEAD_END.length), payload: undefined };
    }
    if (this.bytes < 2) return undefined;
    const head = this.gather(Math.min(this.bytes, WS_HEADER_BYTES_MAX));
    const fin = (head[0]! & 0x80) !== 0;
    const opcode = head[0]! & 0x0f;
    const masked = (head[1]! & 0x80) !== 0;
    const len7 = head[1]! & 0x7f;
    const lengthBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerBytes = 2 + lengthBytes + (masked ? 4 : 0);
    if (head.length < headerBytes) return undefined;
    const payloadBytes = len7 === 126 ? head.readUInt16BE(2) : len7 === 127 ? Number(head.readBigUInt64BE(2)) : len7;
    if (this.bytes < headerBytes + payloadBytes) return undefined;
    const raw = this.take(headerBytes + payloadBytes);
    if (!fin || opcode !== OPCODE_BINARY) return { raw, payload: undefined };
    const payload = Buffer.from(raw.subarray(headerBytes));
    if (masked) {
      const key = raw.subarray(headerBytes - 4, headerBytes);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    }
    return { raw, payload };
  }

  /** The first `n` buffered bytes as one buffer (merging chunks only as far as needed). */
  private gather(n: number): Buffer {
    if (this.chunks[0]!.length < n) {
      let have = 0;
      let count = 0;
      while (have < n) have += this.chunks[count++]!.length;
      this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count)));
    }
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const out = Buffer.from(this.gather(n));
    const first = this.chunks[0]!;
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.bytes -= n;
    return out;
  }
}

/** Frames `payload` as one final binary frame, masked with a zero key if `masked`. */
function binaryFrame(payload: Buffer, masked: boolean): Buffer {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0)); // a zero mask key
  header[0] = 0x80 | OPCODE_BINARY;
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? n : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(n, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(n), 2);
  return Buffer.concat([header, payload]);
}

interface Pair {
  index: number;
  client: Socket;
  upstream: Socket;
  done: boolean;
}

export class TcpProxy {
  /** "127.0.0.1:port" the client connects to. */
  readonly address: string;
  /** "host:port" of the server; changing it affects connections accepted later. */
  target: string;
  /** Sees every data message the client sends. */
  onClientMessage: MessageHook | undefined;
  /** Sees every data message the server sends. */
  onServerMessage: MessageHook | undefined;
  /** Connections accepted so far. */
  accepted = 0;

  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  private closing: Promise<void> | undefined;
  /** Half-closed sockets of 'deliver-then-cut', waiting for their peer's end. */
  private readonly lingering = new Set<Socket>();

  private constructor(server: Server, target: string) {
    this.server = server;
    this.target = target;
    this.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.onClientMessage = undefined;
    this.onServerMessage = undefined;
    server.on('connection', (socket: Socket) => this.onConnection(socket));
  }

  static async start(target: string): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new TcpProxy(server, target);
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.pairs.size;
  }

  /** Stops reading from both ends of every connection, present and future; bytes wait in the kernel. */
  stall(): void {
    this.stalled = true;
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream.pause();
    }
  }

  /** Forwards again, starting with what waited. */
  resume(): void {
    this.stalled = false;
    for (const p of this.pairs) {
      p.client.resume();
      p.upstream.resume();
    }
  }

  /** Destroys every connection at once, both ends. */
  cutAll(): void {
    for (const p of [...this.pairs]) this.cut(p);
  }

  /** Cuts every connection and stops listening. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.cutAll();
      for (const s of this.lingering) s.destroy();
    });
    return this.closing;
  }

  private onConnection(client: Socket): void {
    if (this.closing !== undefined) {
      client.destroy();
      return;
    }
    const colon = this.target.lastIndexOf(':');
    const upstream = connect({ host: this.target.slice(0, colon), port: Number(this.target.slice(colon + 1)) });
    const pair: Pair = { index: this.accepted++, client, upstream, done: false };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const fromClient = new FrameSplitter();
    const fromServer = new FrameSplitter();
    client.on('data', (chunk: Buffer) => this.relay(pair, fromClient, chunk, upstream, this.onClientMessage, true));
    upstream.on('data', (chunk: Buffer) => this.relay(pair, fromServer, chunk, client, this.onServerMessage, false));
    // Either end going away takes the other with it; errors are just closes here.
    client.on('close', () => this.cut(pair));
    upstream.on('close', () => this.cut(pair));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    if (this.stalled) {
      client.pause();
      upstream.pause();
    }
  }

  private relay(pair: Pair, splitter: FrameSplitter, chunk: Buffer, to: Socket, hook: MessageHook | undefined, masked: boolean): void {
    if (pair.done) return;
    splitter.push(chunk);
    for (;;) {
      let unit: Unit | undefined;
      try {
        unit = splitter.next();
      } catch {
        this.cut(pair);
        return;
      }
      if (unit === undefined) return;
      const verdict: Verdict = unit.payload !== undefined && hook !== undefined ? hook(unit.payload, pair.index) : 'forward';
      if (verdict === 'forward') {
        to.write(unit.raw);
      } else if (verdict === 'drop') {
        continue;
      } else if (verdict === 'cut') {
        this.cut(pair);
        return;
      } else if (verdict === 'deliver-then-cut') {
        this.deliverThenCut(pair, to, unit.raw);
        return;
      } else {
        to.write(binaryFrame(verdict.replace, masked));
      }
    }
  }

  /**
   * Sends `raw` and a FIN after it to `to` (so the peer reads the message
   * before it sees the end), and destroys the other end at once, so that
   * nothing the peer answers gets back.
   */
  private deliverThenCut(pair: Pair, to: Socket, raw: Buffer): void {
    pair.done = true;
    this.pairs.delete(pair);
    const from = to === pair.upstream ? pair.client : pair.upstream;
    from.destroy();
    to.end(raw);
    to.resume(); // read and discard until the peer closes
    this.lingering.add(to);
    const timer = setTimeout(() => to.destroy(), LINGER_MS);
    timer.unref();
    to.once('close', () => {
      clearTimeout(timer);
      this.lingering.delete(to);
    });
  }

  private cut(pair: Pair): void {
    if (pair.done) return;
    pair.done = true;
    this.pairs.delete(pair);
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
