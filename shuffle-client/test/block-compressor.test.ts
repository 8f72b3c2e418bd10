import test from 'ava';
import { crc32c } from '@node-rs/crc32';
import type { SealedBlock } from '../src/batch-builder.js';
import { BlockCompressor } from '../src/block-compressor.js';
import { decompressBlock } from '../src/compression.js';
import { randomBytes } from 'node:crypto';
import { Codec } from '../../schemas/ts/messages.js';
import { COMPRESS_ASYNC_BYTES_MIN, COMPRESSIONS_IN_FLIGHT_MAX, LZ4_SMALL_BLOCK_BYTES, LZ4_SMALL_SKIP_BLOCKS } from '../src/limits.js';

function text(bytes: number, seed: number): Buffer {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `${seed}:{"id":${i},"v":"${(i * seed) % 977}"}`;
  return Buffer.from(s.slice(0, bytes));
}

test('blocks come out in submission order, large (async) and small (inline) mixed', async (t) => {
  const out: SealedBlock[] = [];
  const c = new BlockCompressor('lz4', (b) => out.push(b), (e) => t.fail(e.message));
  const raws: Buffer[] = [];
  for (let i = 0; i < 3 * COMPRESSIONS_IN_FLIGHT_MAX; i++) {
    // Decreasing sizes, so later async blocks tend to finish first.
    const size = i % 3 === 2 ? 100 : COMPRESS_ASYNC_BYTES_MIN * (4 - (i % 4));
    const raw = text(size, i);
    raws.push(raw);
    c.submit(i, raw);
  }
  t.true(c.bytes > 0);
  await c.drained();
  t.true(c.idle);
  t.is(c.bytes, 0);
  t.deepEqual(out.map((b) => b.partition), raws.map((_, i) => i));
  for (let i = 0; i < out.length; i++) {
    const b = out[i]!;
    t.is(b.crc32c, crc32c(b.stored) >>> 0);
    t.true(decompressBlock(b.stored, b.codec, b.rawLength).equals(raws[i]!));
  }
});

test('cancel drops pending blocks and releases drained() waiters', async (t) => {
  const out: SealedBlock[] = [];
  const c = new BlockCompressor('lz4', (b) => out.push(b), (e) => t.fail(e.message));
  for (let i = 0; i < 8; i++) c.submit(i, text(COMPRESS_ASYNC_BYTES_MIN * 2, i));
  const drained = c.drained();
  c.cancel();
  await drained;
  await new Promise((r) => setTimeout(r, 50));
  t.is(out.length, 0);
  t.is(c.bytes, 0);
});

test('small blocks that LZ4 cannot shrink are stored uncompressed without trying, one in LZ4_SMALL_SKIP_BLOCKS + 1 tried again', async (t) => {
  const out: SealedBlock[] = [];
  const c = new BlockCompressor('lz4', (b) => out.push(b), (e) => t.fail(e.message));
  const rounds = 3;
  const raws = Array.from({ length: rounds * (LZ4_SMALL_SKIP_BLOCKS + 1) }, () => randomBytes(500));
  raws.forEach((raw, i) => c.submit(i, raw));
  await c.drained();
  t.is(c.smallBlocksSkipped, rounds * LZ4_SMALL_SKIP_BLOCKS);
  t.true(out.every((b, i) => b.codec === Codec.NONE && b.stored.equals(raws[i]!) && b.crc32c === crc32c(b.stored) >>> 0));
});

test('small blocks that LZ4 shrinks are all compressed; large ones are compressed whatever small ones did', async (t) => {
  const out: SealedBlock[] = [];
  const c = new BlockCompressor('lz4', (b) => out.push(b), (e) => t.fail(e.message));
  for (let i = 0; i < 40; i++) c.submit(i, text(2000, i + 1));
  c.submit(40, randomBytes(300)); // does not shrink: the next small blocks are skipped
  c.submit(41, text(LZ4_SMALL_BLOCK_BYTES, 3)); // not small: tried anyway
  await c.drained();
  t.is(c.smallBlocksSkipped, 0);
  t.true(out.slice(0, 40).every((b) => b.codec === Codec.LZ4), 'compressible small blocks compressed');
  t.is(out[40]!.codec, Codec.NONE);
  t.is(out[41]!.codec, Codec.LZ4);
});
