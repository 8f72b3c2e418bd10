// The run header and block record header codecs: the bytes sit where the layout
// comment (and RUN_FORMAT.md) says, decoding gives back what was encoded, and every
// kind of damage a header can take is CORRUPT_DATA.
import { AssertionError } from 'node:assert';

import test from 'ava';

import { crc32c } from '../../native/ts/crc32c.js';
import { PegasusError } from '../ts/errors.js';
import { BLOCK_BYTES_MAX } from '../ts/limits.js';
import { Codec, type BlockHeader } from '../ts/messages.js';
import {
  BLOCK_HEADER_BYTES, BLOCK_MAGIC, RUN_FORMAT_VERSION, RUN_HEADER_BYTES, RUN_MAGIC, decodeBlockHeader, decodeRunHeader, encodeBlockHeader,
  encodeRun, encodeRunHeader, runBytesOf,
} from '../ts/run-format.js';

const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);

const header: BlockHeader = {
  attempt: 2 ** 40 + 3, mapId: 7, partition: 11, batch: 2, seq: 5, rawLength: 1000, storedLength: 600, crc32c: 0xdeadbeef, codec: Codec.LZ4,
};

/** Recomputes a header's own CRC after a test changed its bytes, so the change itself is what decoding sees. */
function reseal(buf: Buffer, headerBytes: number): void {
  buf.writeUInt32LE(crc32c(buf.subarray(0, headerBytes - 4)), headerBytes - 4);
}

test('the run header has its fields at the documented offsets and decodes to what was encoded', (t) => {
  const buf = Buffer.alloc(RUN_HEADER_BYTES);
  encodeRunHeader(buf, 0, { partition: 9, blockCount: 3, runBytes: 2 ** 33 + 1 });
  t.is(buf.toString('latin1', 0, 4), 'PRUN');
  t.is(buf.readUInt32LE(0), RUN_MAGIC);
  t.is(buf.readUInt16LE(4), RUN_FORMAT_VERSION);
  t.is(buf.readUInt16LE(6), RUN_HEADER_BYTES);
  t.is(buf.readUInt32LE(8), 9);
  t.is(buf.readUInt32LE(12), 3);
  t.is(buf.readBigUInt64LE(16), 2n ** 33n + 1n);
  t.is(buf.readUInt32LE(24), 0);
  t.is(buf.readUInt32LE(28), crc32c(buf.subarray(0, 28)));
  t.deepEqual(decodeRunHeader(buf, 0), { partition: 9, blockCount: 3, runBytes: 2 ** 33 + 1 });
});

test('the block record header has its fields at the documented offsets and decodes to what was encoded', (t) => {
  const buf = Buffer.alloc(8 + BLOCK_HEADER_BYTES);
  encodeBlockHeader(buf, 8, header);
  const h = buf.subarray(8);
  t.is(h.toString('latin1', 0, 4), 'PBLK');
  t.is(h.readUInt32LE(0), BLOCK_MAGIC);
  t.is(h.readUInt8(4), RUN_FORMAT_VERSION);
  t.is(h.readUInt8(5), Codec.LZ4);
  t.is(h.readUInt16LE(6), BLOCK_HEADER_BYTES);
  t.is(h.readBigUInt64LE(8), BigInt(header.attempt));
  t.deepEqual([16, 20, 24, 28, 32, 36, 40].map((o) => h.readUInt32LE(o)), [7, 11, 2, 5, 1000, 600, 0xdeadbeef]);
  t.is(h.readUInt32LE(44), crc32c(h.subarray(0, 44)));
  t.deepEqual(decodeBlockHeader(buf, 8), header);
});

test('damaged run headers are CORRUPT_DATA: magic, version, size, CRC, a length too small for the blocks, too few bytes', (t) => {
  const good = Buffer.alloc(RUN_HEADER_BYTES);
  encodeRunHeader(good, 0, { partition: 1, blockCount: 2, runBytes: 500 });
  const cases: Array<[string, (b: Buffer) => void]> = [
    ['magic', (b) => { b.write('PSEG', 0, 'latin1'); reseal(b, RUN_HEADER_BYTES); }],
    ['version', (b) => { b.writeUInt16LE(2, 4); reseal(b, RUN_HEADER_BYTES); }],
    ['header bytes', (b) => { b.writeUInt16LE(48, 6); reseal(b, RUN_HEADER_BYTES); }],
    ['CRC', (b) => { b[9]! ^= 1; }],
    ['run bytes', (b) => { b.writeUInt32LE(RUN_HEADER_BYTES + BLOCK_HEADER_BYTES, 16); reseal(b, RUN_HEADER_BYTES); }],
  ];
  for (const [what, damage] of cases) {
    const b = Buffer.from(good);
    damage(b);
    t.is(codeOf(t.throws(() => decodeRunHeader(b, 0), undefined, what)), 'CORRUPT_DATA', what);
  }
  t.is(codeOf(t.throws(() => decodeRunHeader(good.subarray(0, 31), 0))), 'CORRUPT_DATA');
});

test('damaged block headers are CORRUPT_DATA: magic, version, size, codec, lengths beyond BLOCK_BYTES_MAX, attempt beyond 2^53, CRC', (t) => {
  const good = Buffer.alloc(BLOCK_HEADER_BYTES);
  encodeBlockHeader(good, 0, header);
  const cases: Array<[string, (b: Buffer) => void]> = [
    ['magic', (b) => { b.write('PRUN', 0, 'latin1'); reseal(b, BLOCK_HEADER_BYTES); }],
    ['version', (b) => { b.writeUInt8(2, 4); reseal(b, BLOCK_HEADER_BYTES); }],
    ['header bytes', (b) => { b.writeUInt16LE(32, 6); reseal(b, BLOCK_HEADER_BYTES); }],
    ['codec', (b) => { b.writeUInt8(9, 5); reseal(b, BLOCK_HEADER_BYTES); }],
    ['raw length', (b) => { b.writeUInt32LE(BLOCK_BYTES_MAX + 1, 32); reseal(b, BLOCK_HEADER_BYTES); }],
    ['stored length', (b) => { b.writeUInt32LE(BLOCK_BYTES_MAX + 1, 36); reseal(b, BLOCK_HEADER_BYTES); }],
    ['attempt', (b) => { b.writeUInt32LE(0x20_0000, 12); reseal(b, BLOCK_HEADER_BYTES); }],
    ['CRC', (b) => { b[17]! ^= 0x80; }],
  ];
  for (const [what, damage] of cases) {
    const b = Buffer.from(good);
    damage(b);
    t.is(codeOf(t.throws(() => decodeBlockHeader(b, 0), undefined, what)), 'CORRUPT_DATA', what);
  }
});

test('encodeRun lays out header and records back to back; runBytesOf asserts what a writer hands over', (t) => {
  const data = [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('hello world')];
  const blocks = data.map((d, seq) => ({ header: { ...header, seq, rawLength: d.length, storedLength: d.length, crc32c: crc32c(d), codec: Codec.NONE }, data: d }));
  const run = encodeRun({ partition: 11, blocks });
  t.is(run.length, RUN_HEADER_BYTES + 3 * BLOCK_HEADER_BYTES + 14);
  t.is(runBytesOf({ partition: 11, blocks }), run.length);
  t.deepEqual(decodeRunHeader(run, 0), { partition: 11, blockCount: 3, runBytes: run.length });
  let at = RUN_HEADER_BYTES;
  for (const b of blocks) {
    t.deepEqual(decodeBlockHeader(run, at), b.header);
    t.deepEqual(run.subarray(at + BLOCK_HEADER_BYTES, at + BLOCK_HEADER_BYTES + b.data.length), b.data);
    at += BLOCK_HEADER_BYTES + b.data.length;
  }
  t.throws(() => runBytesOf({ partition: 12, blocks }), { instanceOf: AssertionError });
  t.throws(() => runBytesOf({ partition: 11, blocks: [] }), { instanceOf: AssertionError });
  t.throws(() => runBytesOf({ partition: 11, blocks: [{ ...blocks[0]!, data: Buffer.alloc(4) }] }), { instanceOf: AssertionError });
});
