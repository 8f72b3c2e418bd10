// Segment format codecs and file names, byte by byte.
import test from 'ava';

import { Codec, type BlockHeader } from '../../../schemas/ts/messages.js';
import { PegasusError } from '../../src/errors.js';
import {
  BLOCK_HEADER_BYTES,
  RUN_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  decodeBlockHeader,
  decodeRunHeader,
  decodeSegmentHeader,
  encodeBlockHeader,
  encodeRunHeader,
  encodeSegmentHeader,
} from '../../src/engine/segment-format.js';
import { parseSegmentFileName, parseShuffleDirName, segmentFileName, segmentPath } from '../helpers/shuffle-layout.js';

const header: BlockHeader = {
  attempt: 2 ** 53 - 1, mapId: 0xffff_fffe, partition: 999_999, batch: 12, seq: 65_535,
  rawLength: 8 * 1024 * 1024, storedLength: 123, crc32c: 0xdead_beef, codec: Codec.LZ4,
};

/** Every single-byte change of an encoded header is detected. */
function everyFlipIsDetected(t: import('ava').ExecutionContext, buf: Buffer, decode: (b: Buffer, at: number) => unknown): void {
  for (let i = 0; i < buf.length; i++) {
    const bad = Buffer.from(buf);
    bad[i]! ^= 0x01;
    const err = t.throws(() => decode(bad, 0), undefined, `byte ${i}`);
    t.is((err as PegasusError).code, 'CORRUPT_DATA');
  }
}

test('SegmentHeaderRoundTrip and ChecksumMismatch on any flipped byte', (t) => {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES + 4);
  encodeSegmentHeader(buf, 4, { segmentId: 2 ** 40 + 5, logId: 0xffff_ffff });
  t.deepEqual(decodeSegmentHeader(buf, 4), { segmentId: 2 ** 40 + 5, logId: 0xffff_ffff });
  t.is(buf.toString('latin1', 4, 8), 'PSEG');
  everyFlipIsDetected(t, buf.subarray(4), decodeSegmentHeader);
});

test('RunHeaderRoundTrip and ChecksumMismatch on any flipped byte', (t) => {
  const buf = Buffer.alloc(RUN_HEADER_BYTES);
  const h = { partition: 77, blockCount: 3, runBytes: 5 * 2 ** 32 + 17 };
  encodeRunHeader(buf, 0, h);
  t.deepEqual(decodeRunHeader(buf, 0), h);
  t.is(buf.toString('latin1', 0, 4), 'PRUN');
  everyFlipIsDetected(t, buf, decodeRunHeader);
});

test('BlockHeaderRoundTrip and ChecksumMismatch on any flipped byte', (t) => {
  const buf = Buffer.alloc(BLOCK_HEADER_BYTES);
  encodeBlockHeader(buf, 0, header);
  t.deepEqual(decodeBlockHeader(buf, 0), header);
  t.is(buf.toString('latin1', 0, 4), 'PBLK');
  everyFlipIsDetected(t, buf, decodeBlockHeader);
});

test('ShortHeaderIsCorrupt', (t) => {
  t.is(t.throws(() => decodeBlockHeader(Buffer.alloc(10), 0))?.message.includes('only 10 bytes'), true);
  t.is((t.throws(() => decodeRunHeader(Buffer.alloc(40), 20)) as PegasusError).code, 'CORRUPT_DATA');
});

test('SegmentFileNamesSortAndParse', (t) => {
  t.is(segmentFileName(42), '00000000000000000042.seg');
  t.is(parseSegmentFileName('00000000000000000042.seg'), 42);
  t.is(parseSegmentFileName(segmentFileName(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  for (const bad of ['42.seg', '0000000000000000042.seg', '00000000000000000042.seg.tmp', '99999999999999999999.seg', 'x']) {
    t.is(parseSegmentFileName(bad), null, bad);
  }
  const names = [10, 9, 100, 2].map(segmentFileName).sort();
  t.deepEqual(names.map(parseSegmentFileName), [2, 9, 10, 100]);
  t.is(parseShuffleDirName('0'), 0);
  t.is(parseShuffleDirName('4294967295'), 4294967295);
  for (const bad of ['01', '4294967296', '-1', '1.5', '']) t.is(parseShuffleDirName(bad), null, bad);
  t.is(segmentPath('/d', 'a-1.b_c', 5, 1), '/d/shuffles/a-1.b_c/5/00000000000000000001.seg');
  t.throws(() => segmentPath('/d', '../etc', 5, 1));
  t.throws(() => segmentPath('/d', 'app', -1, 1));
});
