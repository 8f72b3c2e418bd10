import test from 'ava';
import { randomBytes } from 'node:crypto';
import { PegasusError } from '../../schemas/ts/errors.js';
import { BLOCK_BYTES_MAX } from '../../schemas/ts/limits.js';
import { Codec } from '../../schemas/ts/messages.js';
import { compressBlock, compressBlockAsync, decompressBlock, LZ4_SIZE_PREFIX_BYTES } from '../src/compression.js';

const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);

function text(bytes: number): Buffer {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `{"id":${i},"name":"user${(i * 7919) % 1000}"}`;
  return Buffer.from(s.slice(0, bytes));
}

test('lz4 round trip of compressible data', (t) => {
  const raw = text(256 * 1024);
  const b = compressBlock(raw, 'lz4');
  t.is(b.codec, Codec.LZ4);
  t.true(b.stored.length < raw.length);
  t.is(b.stored.readUInt32LE(0), raw.length, 'stored form starts with the raw length');
  t.true(decompressBlock(b.stored, b.codec, raw.length).equals(raw));
});

test('async compression produces the same stored bytes', async (t) => {
  const raw = text(200_000);
  const a = await compressBlockAsync(raw, 'lz4');
  const s = compressBlock(raw, 'lz4');
  t.is(a.codec, s.codec);
  t.true(a.stored.equals(s.stored));
});

test('incompressible block is stored with codec NONE', (t) => {
  const raw = randomBytes(64 * 1024);
  const b = compressBlock(raw, 'lz4');
  t.is(b.codec, Codec.NONE);
  t.is(b.stored, raw);
  t.is(decompressBlock(b.stored, b.codec, raw.length), raw);
});

test("codec 'none' and empty blocks are stored as is", (t) => {
  const raw = text(10_000);
  t.is(compressBlock(raw, 'none').codec, Codec.NONE);
  t.is(compressBlock(Buffer.alloc(0), 'lz4').codec, Codec.NONE);
});

test('wrong raw length is CORRUPT_DATA', (t) => {
  const raw = text(100_000);
  const b = compressBlock(raw, 'lz4');
  t.is(codeOf(t.throws(() => decompressBlock(b.stored, b.codec, raw.length + 1))), 'CORRUPT_DATA');
  t.is(codeOf(t.throws(() => decompressBlock(b.stored, b.codec, raw.length - 1))), 'CORRUPT_DATA');
  t.is(codeOf(t.throws(() => decompressBlock(raw, Codec.NONE, raw.length - 1))), 'CORRUPT_DATA');
});

test('a prefix that disagrees with the payload is CORRUPT_DATA, not a short block', (t) => {
  const raw = text(100_000);
  const b = compressBlock(raw, 'lz4');
  // Prefix and header both claim more than the payload holds: lz4-napi would
  // return fewer bytes without complaint.
  const lying = Buffer.from(b.stored);
  lying.writeUInt32LE(raw.length + 100, 0);
  t.is(codeOf(t.throws(() => decompressBlock(lying, Codec.LZ4, raw.length + 100))), 'CORRUPT_DATA');
  const small = Buffer.from(b.stored);
  small.writeUInt32LE(100, 0);
  t.is(codeOf(t.throws(() => decompressBlock(small, Codec.LZ4, 100))), 'CORRUPT_DATA');
});

test('garbage LZ4 payload and oversized raw lengths are CORRUPT_DATA', (t) => {
  const garbage = Buffer.alloc(LZ4_SIZE_PREFIX_BYTES + 10, 0xff);
  garbage.writeUInt32LE(1000, 0);
  t.is(codeOf(t.throws(() => decompressBlock(garbage, Codec.LZ4, 1000))), 'CORRUPT_DATA');
  const huge = Buffer.alloc(16);
  huge.writeUInt32LE(BLOCK_BYTES_MAX + 1, 0);
  t.is(codeOf(t.throws(() => decompressBlock(huge, Codec.LZ4, BLOCK_BYTES_MAX + 1))), 'CORRUPT_DATA');
  t.is(codeOf(t.throws(() => decompressBlock(Buffer.alloc(3), Codec.LZ4, 3))), 'CORRUPT_DATA');
});
