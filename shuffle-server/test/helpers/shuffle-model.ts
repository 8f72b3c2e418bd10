// A plain in-memory model of what a shuffle must serve, and deterministic block
// contents, shared by the property test and the crash test.
import { crc32c } from '@node-rs/crc32';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import type { BlockHeader } from '../../../schemas/ts/messages.js';
import type { RawClient } from './raw-client.js';
import { makePush } from './raw-client.js';

/** Small deterministic PRNG (mulberry32), so failures replay from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(r: () => number, lo: number, hiExclusive: number): number {
  return lo + Math.floor(r() * (hiExclusive - lo));
}

/** Bytes of a block, a pure function of its identity: verification regenerates them. */
export function blockBytes(mapId: number, attempt: number, batch: number, seq: number, partition: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = (mapId * 7919 + attempt * 104729 + batch * 1299709 + seq * 15485863 + partition * 32452843) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export interface ModelBlock {
  partition: number;
  mapId: number;
  attempt: number;
  batch: number;
  seq: number;
  length: number;
}

/** The blocks of one batch of one attempt: random partitions and lengths. */
export function makeBatch(r: () => number, mapId: number, attempt: number, batch: number, numPartitions: number, maxBlocks = 6, maxBytes = 3000): ModelBlock[] {
  const n = randInt(r, 1, maxBlocks + 1);
  const out: ModelBlock[] = [];
  for (let seq = 0; seq < n; seq++) out.push({ partition: randInt(r, 0, numPartitions), mapId, attempt, batch, seq, length: randInt(r, 0, maxBytes) });
  return out;
}

export async function pushBatch(c: RawClient, appId: string, shuffleId: number, blocks: ModelBlock[]): Promise<void> {
  const first = blocks[0]!;
  const push = makePush(appId, shuffleId, first.mapId, first.attempt, first.batch,
    blocks.map((b) => ({ partition: b.partition, data: blockBytes(b.mapId, b.attempt, b.batch, b.seq, b.partition, b.length) })));
  const f = await c.request(push.message, push.body);
  if (f.message.type !== 'Ack') throw new Error(`push failed: ${JSON.stringify(f.message)}`);
}

export interface ReadBlock {
  header: BlockHeader;
  data: Buffer;
}

/** Reads a range to the end over the raw protocol, checking CRCs and ReadEnd counts. */
export async function readRange(c: RawClient, appId: string, shuffleId: number, pStart: number, pEnd: number, mStart: number, mEnd: number): Promise<ReadBlock[]> {
  const f0 = await c.request({ type: 'OpenRead', appId, shuffleId, partitionStart: pStart, partitionEnd: pEnd, mapStart: mStart, mapEnd: mEnd, creditBytes: 256 * 1024 });
  const out: ReadBlock[] = [];
  let f: typeof f0 | null = f0;
  for (;;) {
    if (f === null) throw new Error('connection closed during read');
    const m = f.message;
    if (m.type === 'Error') throw new Error(`read failed: ${m.code} ${m.message}`);
    if (m.type === 'ReadEnd') {
      if (m.blockCount !== out.length) throw new Error(`ReadEnd says ${m.blockCount} blocks, got ${out.length}`);
      return out;
    }
    if (m.type !== 'ReadData') throw new Error(`unexpected ${m.type}`);
    let pos = 0;
    for (const h of m.blocks) {
      const data = f.body.subarray(pos, pos + h.storedLength);
      pos += h.storedLength;
      if (crc32c(data) !== h.crc32c) throw new Error('CRC mismatch in read');
      out.push({ header: h, data });
    }
    c.sendRaw(Buffer.from(encodeCredit(f.requestId, f.body.length)));
    f = await c.next();
  }
}

function encodeCredit(requestId: number, bytes: number): Buffer {
  return encodeFrame(requestId, { type: 'ReadCredit', creditBytes: Math.max(bytes, 1) });
}

/** Canonical key of a block for comparing a read with the model. */
export function key(b: { partition: number; mapId: number; attempt: number; batch: number; seq: number }): string {
  return `${b.partition}/${b.mapId}/${b.attempt}/${b.batch}/${b.seq}`;
}

/**
 * Checks a read against the expected model blocks: the same multiset, the right
 * bytes, partitions ascending, and within one (partition, map) the stored order
 * (batch, seq) ascending.
 */
export function checkRead(got: ReadBlock[], expected: ModelBlock[]): string | null {
  const want = new Map(expected.map((b) => [key(b), b]));
  const seen = new Set<string>();
  let lastPartition = -1;
  const lastInMap = new Map<string, number>();
  for (const g of got) {
    const h = g.header;
    const k = key(h);
    const m = want.get(k);
    if (m === undefined) return `unexpected block ${k}`;
    if (seen.has(k)) return `duplicate block ${k}`;
    seen.add(k);
    if (!g.data.equals(blockBytes(h.mapId, h.attempt, h.batch, h.seq, h.partition, m.length))) return `wrong bytes in ${k}`;
    if (h.partition < lastPartition) return `partition ${h.partition} after ${lastPartition}`;
    lastPartition = h.partition;
    const pm = `${h.partition}/${h.mapId}`;
    const order = h.batch * 65536 + h.seq;
    if ((lastInMap.get(pm) ?? -1) > order) return `block ${k} out of order`;
    lastInMap.set(pm, order);
  }
  if (seen.size !== want.size) {
    const missing = [...want.keys()].filter((k) => !seen.has(k));
    return `missing ${missing.length} blocks, e.g. ${missing.slice(0, 3).join(', ')}`;
  }
  return null;
}
