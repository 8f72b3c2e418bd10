// RunParser against runs built with the segment format's own encoders: any way
// of cutting a run into pieces yields the same blocks; damage is a coded error.
import { randomBytes } from 'node:crypto';

import test from 'ava';

import { crc32c } from '../../native/ts/crc32c.js';
import { Codec, type RunLocation } from '../../schemas/ts/messages.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, encodeBlockHeader, encodeRunHeader } from '../../shuffle-server/src/engine/segment-format.js';
import { RunParser } from '../src/run-parser.js';
import { codeOf } from './shuffle-fixtures.js';

function buildRun(partition: number, sizes: number[]): { bytes: Buffer; loc: RunLocation; blocks: Buffer[] } {
  const blocks = sizes.map((n) => randomBytes(n));
  const length = RUN_HEADER_BYTES + blocks.reduce((a, b) => a + BLOCK_HEADER_BYTES + b.length, 0);
  const bytes = Buffer.alloc(length);
  encodeRunHeader(bytes, 0, { partition, blockCount: blocks.length, runBytes: length });
  let at = RUN_HEADER_BYTES;
  blocks.forEach((data, seq) => {
    encodeBlockHeader(bytes, at, {
      attempt: 1, mapId: seq % 3, partition, batch: 0, seq, rawLength: data.length, storedLength: data.length, crc32c: crc32c(data), codec: Codec.NONE,
    });
    data.copy(bytes, at + BLOCK_HEADER_BYTES);
    at += BLOCK_HEADER_BYTES + data.length;
  });
  const loc: RunLocation = { remoteAddress: 0n, length, partition, region: 0, blockCount: blocks.length, mapMin: 0, mapMax: 2, crc32c: crc32c(bytes) };
  return { bytes, loc, blocks };
}

function parseInPieces(bytes: Buffer, loc: RunLocation, cut: () => number): Buffer[] {
  const parser = new RunParser(loc, 'test');
  const got: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, Math.max(1, cut()));
    for (const b of parser.feed(bytes.subarray(at, at + n))) got.push(Buffer.from(b.data));
    at += n;
  }
  parser.finish();
  return got;
}

test('a run cut into pieces of any size yields exactly its blocks', (t) => {
  const { bytes, loc, blocks } = buildRun(4, [0, 1, 47, 48, 49, 5000, 70_000, 3, 100_000]);
  for (const cut of [() => 1, () => 7, () => 48, () => 4096, () => bytes.length, () => Math.floor(Math.random() * 90_000)]) {
    t.deepEqual(parseInPieces(bytes, loc, cut), blocks);
  }
});

test('a run that ends early, has a wrong CRC or a damaged header is refused with a code', (t) => {
  const { bytes, loc } = buildRun(2, [100, 200, 300]);
  const short = new RunParser(loc, 'test');
  short.feed(bytes.subarray(0, bytes.length - 1));
  t.is(codeOf(t.throws(() => short.finish())), 'CORRUPT_DATA');
  const wrongCrc = new RunParser({ ...loc, crc32c: (loc.crc32c! ^ 1) >>> 0 }, 'test');
  wrongCrc.feed(bytes);
  t.is(codeOf(t.throws(() => wrongCrc.finish())), 'CHECKSUM_MISMATCH');
  const damaged = Buffer.from(bytes);
  damaged[RUN_HEADER_BYTES + 10]! ^= 0xff; // inside the first block header
  t.is(codeOf(t.throws(() => parseInPieces(damaged, loc, () => 64))), 'CORRUPT_DATA');
  t.is(codeOf(t.throws(() => new RunParser({ ...loc, partition: 3 }, 'test').feed(bytes))), 'CORRUPT_DATA');
});
