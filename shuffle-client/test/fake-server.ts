// A small in-memory Pegasus server for the client's tests: enough of
// FRAMING.md to push, commit and read, with hooks to inject faults (dropped
// connections, corrupt blocks, silent servers). It is an oracle for the client,
// not a model of the real server: no disk, no budget, no expiry.
import { crc32c } from '@node-rs/crc32';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeFrame, encodeFrame } from '../../schemas/ts/codec.js';
import { ErrorCode } from '../../schemas/ts/errors.js';
import type { BlockHeader, Frame, Message } from '../../schemas/ts/messages.js';
import { PROTOCOL_VERSION } from '../../schemas/ts/version.js';

export interface StoredFakeBlock {
  header: BlockHeader;
  data: Buffer;
}

export interface FakeServerOptions {
  pushWindow?: number;
  frameBytesMax?: number;
  readFrameBytes?: number;
  protocolVersion?: number;
  /**
   * Called for each PushBlocks before it is stored; 'close' drops the
   * connection without storing, 'ignore' stores nothing and never answers,
   * 'store-and-close' stores and drops the connection before the Ack.
   */
  onPush?: (frame: Frame, pushIndex: number) => 'ack' | 'close' | 'ignore' | 'store-and-close';
  /** Changes a block's stored bytes on the way out (fault injection). */
  corruptRead?: (header: BlockHeader, data: Buffer) => Buffer;
  /** Changes the ReadEnd counts (fault injection). */
  lieInReadEnd?: boolean;
}

interface Stream {
  ws: WebSocket;
  requestId: number;
  blocks: StoredFakeBlock[];
  next: number;
  credit: number;
  bytesSent: number;
  done: boolean;
}

export class FakeServer {
  readonly wss: WebSocketServer;
  readonly port: number;
  readonly opts: FakeServerOptions;
  /** Blocks by "map/attempt/batch" (a retried batch is stored once). */
  readonly batches = new Map<string, StoredFakeBlock[]>();
  /** Winning attempt and batch count per map. */
  readonly commits = new Map<number, { attempt: number; batchCount: number }>();
  pushCount = 0;
  maxInFlightPushes = 0;
  connections = 0;
  readonly credits: number[] = [];
  cancels = 0;
  private inFlight = new Map<WebSocket, number>();

  private constructor(wss: WebSocketServer, opts: FakeServerOptions) {
    this.wss = wss;
    this.opts = opts;
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => this.onConnection(ws));
  }

  static async start(opts: FakeServerOptions = {}): Promise<FakeServer> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws', perMessageDeflate: false, maxPayload: 32 << 20 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new FakeServer(wss, opts);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }

  /** Drops every client connection. */
  dropAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  private send(ws: WebSocket, requestId: number, message: Message, body: Buffer[] = []): void {
    ws.send(encodeFrame(requestId, message, body));
  }

  private onConnection(ws: WebSocket): void {
    this.connections++;
    this.inFlight.set(ws, 0);
    const streams = new Map<number, Stream>();
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      const id = frame.requestId;
      const m = frame.message;
      switch (m.type) {
        case 'Hello':
          this.send(ws, id, {
            type: 'HelloAck', protocolVersion: this.opts.protocolVersion ?? PROTOCOL_VERSION, serverVersion: 'fake',
            frameBytesMax: this.opts.frameBytesMax ?? 16 << 20, pushWindow: this.opts.pushWindow ?? 4,
            readFrameBytes: this.opts.readFrameBytes ?? 1 << 20,
          });
          break;
        case 'Heartbeat': case 'RegisterShuffle': case 'UnregisterShuffle': case 'UnregisterApp':
          this.send(ws, id, { type: 'Ack' });
          break;
        case 'PushBlocks':
          this.onPush(ws, frame);
          break;
        case 'CommitMap': {
          for (let b = 0; b < m.batchCount; b++) {
            if (!this.batches.has(`${m.mapId}/${m.attempt}/${b}`)) {
              this.send(ws, id, { type: 'Error', code: ErrorCode.MISSING_BATCHES, message: `batch ${b} missing` });
              return;
            }
          }
          const winner = this.commits.get(m.mapId) ?? { attempt: m.attempt, batchCount: m.batchCount };
          this.commits.set(m.mapId, winner);
          this.send(ws, id, { type: 'CommitAck', won: winner.attempt === m.attempt, winnerAttempt: winner.attempt });
          break;
        }
        case 'OpenRead': {
          const s: Stream = { ws, requestId: id, blocks: this.blocksFor(m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd), next: 0, credit: m.creditBytes, bytesSent: 0, done: false };
          streams.set(id, s);
          this.pumpStream(s);
          break;
        }
        case 'ReadCredit': {
          this.credits.push(m.creditBytes);
          const s = streams.get(id);
          if (s !== undefined && !s.done) {
            s.credit += m.creditBytes;
            this.pumpStream(s);
          }
          break;
        }
        case 'CancelRead': {
          this.cancels++;
          const s = streams.get(id);
          // Like the real server: stop, answer nothing.
          if (s !== undefined) s.done = true;
          break;
        }
        default:
          this.send(ws, id, { type: 'Error', code: ErrorCode.UNKNOWN_MESSAGE, message: m.type });
      }
    });
  }

  private onPush(ws: WebSocket, frame: Frame): void {
    if (frame.message.type !== 'PushBlocks') return;
    const index = this.pushCount++;
    const action = this.opts.onPush?.(frame, index) ?? 'ack';
    if (action === 'close') {
      ws.terminate();
      return;
    }
    if (action === 'ignore') return;
    const n = (this.inFlight.get(ws) ?? 0) + 1;
    this.inFlight.set(ws, n);
    this.maxInFlightPushes = Math.max(this.maxInFlightPushes, n);
    const blocks: StoredFakeBlock[] = [];
    let pos = 0;
    for (const h of frame.message.blocks) {
      const data = Buffer.from(frame.body.subarray(pos, pos + h.storedLength));
      pos += h.storedLength;
      if ((crc32c(data) >>> 0) !== h.crc32c) {
        this.send(ws, frame.requestId, { type: 'Error', code: ErrorCode.CHECKSUM_MISMATCH, message: 'bad crc' });
        return;
      }
      blocks.push({ header: h, data });
    }
    const h0 = frame.message.blocks[0];
    if (h0 !== undefined) {
      const key = `${h0.mapId}/${h0.attempt}/${h0.batch}`;
      if (!this.batches.has(key)) this.batches.set(key, blocks);
    }
    if (action === 'store-and-close') {
      ws.terminate();
      return;
    }
    // Answer on a later turn, so several pushes can be in flight at once.
    setImmediate(() => {
      this.inFlight.set(ws, (this.inFlight.get(ws) ?? 1) - 1);
      if (ws.readyState === ws.OPEN) this.send(ws, frame.requestId, { type: 'Ack' });
    });
  }

  /** Committed blocks of the winning attempts, by partition, then map, batch and seq. */
  blocksFor(pStart: number, pEnd: number, mStart: number, mEnd: number): StoredFakeBlock[] {
    const out: StoredFakeBlock[] = [];
    for (const [mapId, c] of this.commits) {
      if (mapId < mStart || mapId >= mEnd) continue;
      for (let b = 0; b < c.batchCount; b++) {
        for (const blk of this.batches.get(`${mapId}/${c.attempt}/${b}`) ?? []) {
          if (blk.header.partition >= pStart && blk.header.partition < pEnd) out.push(blk);
        }
      }
    }
    const key = (h: BlockHeader): number[] => [h.partition, h.mapId, h.batch, h.seq];
    out.sort((x, y) => {
      const a = key(x.header);
      const b = key(y.header);
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return 0;
    });
    return out;
  }

  private pumpStream(s: Stream): void {
    const frameTarget = this.opts.readFrameBytes ?? 1 << 20;
    while (!s.done && s.credit > 0 && s.next < s.blocks.length) {
      const headers: BlockHeader[] = [];
      const parts: Buffer[] = [];
      let bytes = 0;
      while (s.next < s.blocks.length && (headers.length === 0 || bytes + s.blocks[s.next]!.data.length <= frameTarget)) {
        const blk = s.blocks[s.next++]!;
        const data = this.opts.corruptRead?.(blk.header, blk.data) ?? blk.data;
        headers.push(blk.header);
        parts.push(data);
        bytes += data.length;
      }
      s.credit -= bytes;
      s.bytesSent += bytes;
      this.send(s.ws, s.requestId, { type: 'ReadData', blocks: headers }, parts);
    }
    if (!s.done && s.next === s.blocks.length) {
      s.done = true;
      const lie = this.opts.lieInReadEnd === true ? 1 : 0;
      this.send(s.ws, s.requestId, { type: 'ReadEnd', blockCount: s.blocks.length + lie, byteCount: s.bytesSent });
    }
  }
}
