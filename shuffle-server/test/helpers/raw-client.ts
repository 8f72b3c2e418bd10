// A bare protocol peer for tests that must send what a well-behaved client
// never would: raw bytes, wrong order, bad checksums. Uses the shared codec.
import WebSocket from 'ws';
import { crc32c } from '@node-rs/crc32';
import { decodeFrame, encodeFrame } from '../../../schemas/ts/codec.js';
import { Codec, type BlockHeader, type Frame, type Message } from '../../../schemas/ts/messages.js';
import { PROTOCOL_VERSION } from '../../../schemas/ts/version.js';

export class RawClient {
  private readonly frames: Frame[] = [];
  private readonly waiters: Array<(f: Frame | null) => void> = [];
  closed = false;
  closeCode = 0;
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(data);
      const copy: Frame = { ...f, body: Buffer.from(f.body) };
      const w = this.waiters.shift();
      if (w) w(copy);
      else this.frames.push(copy);
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  static async connect(address: string, hello = true): Promise<RawClient> {
    const ws = new WebSocket(`ws://${address}/ws`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const c = new RawClient(ws);
    if (hello) {
      const ack = await c.request({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, client: 'raw-test' });
      if (ack.message.type !== 'HelloAck') throw new Error(`expected HelloAck, got ${ack.message.type}`);
    }
    return c;
  }

  /** Next frame from the server, or null once the connection closed. */
  next(timeoutMs = 10_000): Promise<Frame | null> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no frame from server in time')), timeoutMs);
      this.waiters.push((frame) => {
        clearTimeout(t);
        resolve(frame);
      });
    });
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes, { binary: typeof bytes !== 'string' });
  }

  async request(m: Message, body: Buffer[] = []): Promise<Frame> {
    const id = this.nextId++;
    this.sendRaw(encodeFrame(id, m, body));
    const f = await this.next();
    if (f === null) throw new Error(`connection closed before answer to ${m.type}`);
    return f;
  }

  waitClosed(timeoutMs = 5000): Promise<number> {
    if (this.closed) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connection not closed in time')), timeoutMs);
      this.ws.once('close', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** Blocks for one push of one (map, attempt, batch), uncompressed, with correct CRCs unless told otherwise. */
export function makePush(
  appId: string,
  shuffleId: number,
  mapId: number,
  attempt: number,
  batch: number,
  parts: Array<{ partition: number; data: Buffer }>,
): { message: Message; body: Buffer[] } {
  const blocks: BlockHeader[] = parts.map((p, seq) => ({
    attempt, mapId, partition: p.partition, batch, seq,
    rawLength: p.data.length, storedLength: p.data.length, crc32c: crc32c(p.data), codec: Codec.NONE,
  }));
  return { message: { type: 'PushBlocks', appId, shuffleId, blocks }, body: parts.map((p) => p.data) };
}
