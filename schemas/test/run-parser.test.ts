// RunParser against runs built with run-format.ts's own encoders: any way of
// cutting a run into pieces yields the same blocks as reading it whole; damage is
// a coded error, never a crash or a wrong block.
import { randomBytes } from 'node:crypto';

import test from 'ava';

import { crc32c } from '../../native/ts/crc32c.js';
import { PegasusError } from '../ts/errors.js';
import { Codec } from '../ts/messages.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, encodeBlockHeader, encodeRun, encodeRunHeader, type RunBlock } from '../ts/run-format.js';
import { RunParser, type ExpectedRun } from '../ts/run-parser.js';
import { readVectors, type RunVector } from './vectors.js';

const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);

/** A deterministic generator, so a failing cut can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

function blocksOf(partition: number, sizes: number[], data: (n: number) => Buffer = randomBytes): RunBlock[] {
  return sizes.map((n, seq) => {
    const d = data(n);
    return {
      header: { attempt: 1, mapId: seq % 3, partition, batch: 0, seq, rawLength: n, storedLength: n, crc32c: crc32c(d), codec: Codec.NONE },
      data: d,
    };
  });
}

function buildRun(partition: number, sizes: number[]): { bytes: Buffer; run: ExpectedRun; blocks: Buffer[] } {
  const blocks = blocksOf(partition, sizes);
  const bytes = encodeRun({ partition, blocks });
  const run: ExpectedRun = { length: bytes.length, partition, blockCount: blocks.length, mapMin: 0, mapMax: 2, crc32c: crc32c(bytes) };
  return { bytes, run, blocks: blocks.map((b) => b.data) };
}

function parseInPieces(bytes: Buffer, run: ExpectedRun, cut: () => number): Buffer[] {
  const parser = new RunParser(run, 'test');
  const got: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, Math.max(1, cut()));
    for (const b of parser.feed(bytes.subarray(at, at + n))) got.push(Buffer.from(b.data));
    at += n;
    if (parser.remainingBytes !== bytes.length - at) throw new Error(`remainingBytes ${parser.remainingBytes} after ${at} of ${bytes.length}`);
  }
  parser.finish();
  return got;
}

function codeOfParse(bytes: Buffer, run: ExpectedRun, cut: () => number): string | undefined {
  try {
    parseInPieces(bytes, run, cut);
  } catch (err) {
    return codeOf(err) ?? `uncoded: ${String(err)}`;
  }
  return undefined;
}

test('a run cut into pieces of any size yields exactly its blocks', (t) => {
  const { bytes, run, blocks } = buildRun(4, [0, 1, 47, 48, 49, 5000, 70_000, 3, 0, 100_000]);
  const random = prng(7);
  for (const cut of [() => 1, () => 7, () => 31, () => 48, () => 49, () => 4096, () => bytes.length, () => Math.floor(random() * 90_000)]) {
    t.deepEqual(parseInPieces(bytes, run, cut), blocks);
  }
});

test('randomized: runs of random blocks, cut at random, give the blocks the run was built from', (t) => {
  const random = prng(42);
  for (let i = 0; i < 200; i++) {
    const sizes = Array.from({ length: 1 + Math.floor(random() * 6) }, () => (random() < 0.2 ? 0 : Math.floor(random() * 300)));
    const { bytes, run, blocks } = buildRun(i, sizes);
    const most = 1 + Math.floor(random() * 200);
    t.deepEqual(parseInPieces(bytes, run, () => Math.floor(random() * most)), blocks, `run ${i} sizes ${sizes.join(',')}`);
  }
});

test('a run that ends early, has a wrong CRC or a damaged header is refused with a code', (t) => {
  const { bytes, run } = buildRun(2, [100, 200, 300]);
  const short = new RunParser(run, 'test');
  short.feed(bytes.subarray(0, bytes.length - 1));
  t.is(codeOf(t.throws(() => short.finish())), 'CORRUPT_DATA');
  const wrongCrc = new RunParser({ ...run, crc32c: (run.crc32c! ^ 1) >>> 0 }, 'test');
  wrongCrc.feed(bytes);
  t.is(codeOf(t.throws(() => wrongCrc.finish())), 'CHECKSUM_MISMATCH');
  const damaged = Buffer.from(bytes);
  damaged[RUN_HEADER_BYTES + 10]! ^= 0xff; // inside the first block header
  t.is(codeOfParse(damaged, run, () => 64), 'CORRUPT_DATA');
  t.is(codeOf(t.throws(() => new RunParser({ ...run, partition: 3 }, 'test').feed(bytes))), 'CORRUPT_DATA');
  t.is(codeOf(t.throws(() => new RunParser({ ...run, blockCount: 4 }, 'test').feed(bytes))), 'CORRUPT_DATA');
});

test('a piece that goes past the run\'s length is refused at once, naming the run', (t) => {
  const { bytes, run } = buildRun(5, [10, 20]);
  const p = new RunParser(run, 'server x read 7');
  p.feed(bytes.subarray(0, 40));
  const err = t.throws(() => p.feed(Buffer.concat([bytes.subarray(40), Buffer.alloc(1)])));
  t.is(codeOf(err), 'CORRUPT_DATA');
  t.regex(err!.message, /^server x read 7: run of partition 5 .* 1 bytes past the run's end/);
});

test('bytes after the last block the run header announces are CORRUPT_DATA', (t) => {
  const blocks = blocksOf(1, [10, 10, 10]);
  const bytes = encodeRun({ partition: 1, blocks });
  // A header that announces two blocks but the length of all three.
  encodeRunHeader(bytes, 0, { partition: 1, blockCount: 2, runBytes: bytes.length });
  const run: ExpectedRun = { partition: 1, length: bytes.length, blockCount: 2, mapMin: 0, mapMax: 2, crc32c: null };
  const err = t.throws(() => parseInPieces(bytes, run, () => 1000));
  t.is(codeOf(err), 'CORRUPT_DATA');
  t.regex(err!.message, /58 bytes after the last of 2 blocks/);
});

test('a block of a map outside the run\'s map range, or of another partition, is CORRUPT_DATA', (t) => {
  const { bytes, run } = buildRun(3, [10, 10, 10]);
  t.regex(t.throws(() => parseInPieces(bytes, { ...run, mapMax: 1 }, () => 5))!.message, /block 2 of partition 3 map 2 outside maps 0\.\.1/);
  const other = blocksOf(3, [10, 10]);
  other[1]!.header = { ...other[1]!.header, partition: 4 };
  const mixed = Buffer.alloc(RUN_HEADER_BYTES + 2 * (BLOCK_HEADER_BYTES + 10));
  encodeRunHeader(mixed, 0, { partition: 3, blockCount: 2, runBytes: mixed.length });
  let at = RUN_HEADER_BYTES;
  for (const b of other) {
    encodeBlockHeader(mixed, at, b.header);
    b.data.copy(mixed, at + BLOCK_HEADER_BYTES);
    at += BLOCK_HEADER_BYTES + 10;
  }
  t.is(codeOfParse(mixed, { partition: 3, length: mixed.length, blockCount: 2, mapMin: 0, mapMax: 2, crc32c: null }, () => 3), 'CORRUPT_DATA');
});

test('a block record that says it is longer than what is left of the run is CORRUPT_DATA before its data arrives', (t) => {
  const blocks = blocksOf(0, [10]);
  const bytes = encodeRun({ partition: 0, blocks });
  encodeBlockHeader(bytes, RUN_HEADER_BYTES, { ...blocks[0]!.header, storedLength: 11 });
  const p = new RunParser({ partition: 0, length: bytes.length, blockCount: 1, mapMin: 0, mapMax: 0, crc32c: null }, 'test');
  const err = t.throws(() => p.feed(bytes.subarray(0, RUN_HEADER_BYTES + BLOCK_HEADER_BYTES)));
  t.regex(err!.message, /block 0 of 59 bytes runs past the run's end/);
});

test('an impossible run description is CORRUPT_DATA before any byte is read', (t) => {
  const good: ExpectedRun = { partition: 0, length: RUN_HEADER_BYTES + BLOCK_HEADER_BYTES, blockCount: 1, mapMin: 0, mapMax: 0, crc32c: null };
  t.notThrows(() => new RunParser(good, 'test'));
  for (const bad of [{ blockCount: 0 }, { length: RUN_HEADER_BYTES + BLOCK_HEADER_BYTES - 1 }, { mapMin: 1 }, { length: 2 ** 60 }]) {
    t.is(codeOf(t.throws(() => new RunParser({ ...good, ...bad }, 'test'))), 'CORRUPT_DATA', JSON.stringify(bad));
  }
});

test('a record split across pieces is the parser\'s own copy: overwriting the pieces does not change it', (t) => {
  const { bytes, run, blocks } = buildRun(0, [1000]);
  const p = new RunParser(run, 'test');
  const piece = Buffer.alloc(600);
  bytes.copy(piece, 0, 0, 600);
  t.deepEqual(p.feed(piece), []);
  piece.fill(0);
  const last = Buffer.from(bytes.subarray(600));
  const got = p.feed(last);
  last.fill(0);
  t.is(got.length, 1);
  t.deepEqual(got[0]!.data, blocks[0]);
  p.finish();
});

test('randomized damage: one flipped byte anywhere gives a coded error or, in block data, a run CRC mismatch', (t) => {
  const { bytes, run } = buildRun(9, [0, 30, 200, 5]);
  const random = prng(3);
  for (let i = 0; i < bytes.length; i++) {
    const damaged = Buffer.from(bytes);
    damaged[i]! ^= 1 + Math.floor(random() * 255);
    const code = codeOfParse(damaged, run, () => 1 + Math.floor(random() * 64));
    t.true(code === 'CORRUPT_DATA' || code === 'CHECKSUM_MISMATCH', `byte ${i}: ${code}`);
  }
});

test('run vectors (schemas/test-vectors/runs.json): whole or one byte at a time, the blocks or the error they list', (t) => {
  for (const v of readVectors<RunVector>('runs.json')) {
    const run = Buffer.from(v.run, 'hex');
    for (const piece of [run.length, 1]) {
      const parse = (): Array<{ header: unknown; data: string }> => {
        const parser = new RunParser(v.expected, v.name);
        const got: Array<{ header: unknown; data: string }> = [];
        for (let at = 0; at < run.length; at += piece) {
          for (const b of parser.feed(run.subarray(at, at + piece))) got.push({ header: b.header, data: b.data.toString('hex') });
        }
        parser.finish();
        return got;
      };
      if (v.error === undefined) {
        t.deepEqual(parse(), v.blocks, `${v.name} (pieces of ${piece})`);
      } else {
        const err = t.throws(parse, undefined, `${v.name} (pieces of ${piece})`);
        t.is(codeOf(err), v.error, `${v.name} (pieces of ${piece}): ${err?.message}`);
      }
    }
  }
});

test('parseWhole gives the blocks feed() gives, with the run CRC32C, without it, and on damaged data', (t) => {
  const random = prng(99);
  for (let i = 0; i < 100; i++) {
    const sizes = Array.from({ length: 1 + Math.floor(random() * 8) }, () => (random() < 0.2 ? 0 : Math.floor(random() * 500)));
    const { bytes, run, blocks } = buildRun(i, sizes);
    const whole = (r: ExpectedRun, b: Buffer, checkRunCrc: boolean): Buffer[] => new RunParser(r, 'test').parseWhole(b, checkRunCrc).map((x) => Buffer.from(x.data));
    t.deepEqual(whole(run, bytes, true), blocks, `run ${i} with its CRC32C`);
    t.deepEqual(whole({ ...run, crc32c: null }, bytes, true), blocks, `run ${i} without a CRC32C`);
    const last = blocks.length - 1;
    if (blocks[last]!.length === 0) continue;
    // A flipped byte of block data: the run CRC32C no longer matches. A read
    // still gets the blocks (the block's own CRC32C is the reader's check);
    // verify gets CHECKSUM_MISMATCH.
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 1]! ^= 0x01;
    const got = whole(run, damaged, false);
    t.is(got.length, blocks.length);
    t.false(got[last]!.equals(blocks[last]!));
    t.is(codeOf(t.throws(() => whole(run, damaged, true))), 'CHECKSUM_MISMATCH');
  }
});

test('parseWhole: a damaged block header is CORRUPT_DATA, not a checksum mismatch, and a wrong length is refused', (t) => {
  const { bytes, run } = buildRun(2, [100, 200, 300]);
  const damaged = Buffer.from(bytes);
  damaged[RUN_HEADER_BYTES + BLOCK_HEADER_BYTES + 100 + 20]! ^= 0xff; // the second block header's partition field
  for (const checkRunCrc of [false, true]) {
    const err = t.throws(() => new RunParser(run, 'test').parseWhole(damaged, checkRunCrc));
    t.is(codeOf(err), 'CORRUPT_DATA');
    t.regex(err!.message, /block 1/);
  }
  t.is(codeOf(t.throws(() => new RunParser(run, 'test').parseWhole(bytes.subarray(1), false))), 'CORRUPT_DATA');
});
