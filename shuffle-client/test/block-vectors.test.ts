// The shared block vectors (schemas/test-vectors/blocks.json) through the
// TypeScript client's read-side check: CRC32C first, then decompression to
// exactly the raw length. The JVM client's BlockCodec reads the same file.
import test from 'ava';

import { PegasusError } from '../../schemas/ts/errors.js';
import type { BlockHeader, Codec } from '../../schemas/ts/messages.js';
import { readVectors, type BlockVector } from '../../schemas/test/vectors.js';
import { checkBlock } from '../src/block-check.js';
import type { ReadCounters } from '../src/read-stream.js';

test('every block vector decodes to its raw bytes, or fails with its code', (t) => {
  const vectors = readVectors<BlockVector>('blocks.json');
  t.true(vectors.some((v) => v.error === undefined) && vectors.some((v) => v.error !== undefined));
  for (const v of vectors) {
    const stored = Buffer.from(v.stored, 'hex');
    const h: BlockHeader = {
      attempt: 1, mapId: 0, partition: 0, batch: 0, seq: 0, rawLength: v.rawLength, storedLength: stored.length, crc32c: v.crc32c, codec: v.codec as Codec,
    };
    const counters: ReadCounters = { blocks: 0, storedBytes: 0, rawBytes: 0, creditGrants: 0 };
    if (v.error === undefined) {
      t.is(checkBlock(h, stored, counters, v.name).data.toString('hex'), v.raw ?? '(raw missing)', v.name);
    } else {
      const err = t.throws(() => checkBlock(h, stored, counters, v.name), undefined, v.name);
      t.is(err instanceof PegasusError ? err.code : String(err), v.error, `${v.name}: ${err?.message}`);
    }
  }
});
