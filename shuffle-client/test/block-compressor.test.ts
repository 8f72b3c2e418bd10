import test from 'ava';
import { crc32c } from '@node-rs/crc32';
import type { SealedBlock } from '../src/batch-builder.js';
import { BlockCompressor } from '../src/block-compressor.js';
import { decompressBlock } from '../src/compression.js';
import { COMPRESS_ASYNC_BYTES_MIN, COMPRESSIONS_IN_FLIGHT_MAX } from '../src/limits.js';

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
