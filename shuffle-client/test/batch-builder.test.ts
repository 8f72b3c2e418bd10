import test from 'ava';
import { BLOCKS_PER_MESSAGE_MAX, FRAME_BYTES_MAX } from '../../schemas/ts/limits.js';
import { Codec } from '../../schemas/ts/messages.js';
import { BatchBuilder, blockBytesFitting, pushFrameBytes, type SealedBlock } from '../src/batch-builder.js';

function block(partition: number, bytes: number): SealedBlock {
  return { partition, rawLength: bytes * 2, stored: Buffer.alloc(bytes, partition), codec: Codec.LZ4, crc32c: 1234 };
}

test('a batch numbers its blocks seq 0.. in the order added', (t) => {
  const b = new BatchBuilder({ mapId: 7, attempt: 3, batchBytes: 1 << 20, frameBytesMax: FRAME_BYTES_MAX });
  b.add(block(5, 10));
  b.add(block(2, 20));
  b.add(block(5, 30));
  const batch = b.take(4);
  t.deepEqual(batch.headers.map((h) => [h.partition, h.seq, h.batch, h.mapId, h.attempt, h.storedLength]), [
    [5, 0, 4, 7, 3, 10], [2, 1, 4, 7, 3, 20], [5, 2, 4, 7, 3, 30],
  ]);
  t.is(batch.storedBytes, 60);
  t.is(batch.rawBytes, 120);
  t.deepEqual(batch.parts.map((p) => p.length), [10, 20, 30]);
  t.true(b.isEmpty);
  t.is(b.storedBytes, 0);
});

test('a batch is full at batchBytes', (t) => {
  const b = new BatchBuilder({ mapId: 0, attempt: 0, batchBytes: 100, frameBytesMax: FRAME_BYTES_MAX });
  b.add(block(0, 60));
  t.false(b.isFull);
  b.add(block(0, 40));
  t.true(b.isFull);
});

test('a block that would overflow the frame does not fit, but fits an empty batch', (t) => {
  const frameBytesMax = 1 << 20;
  const b = new BatchBuilder({ mapId: 0, attempt: 0, batchBytes: 8 << 20, frameBytesMax });
  const big = blockBytesFitting(frameBytesMax);
  t.true(b.fits(big));
  b.add(block(0, 1000));
  t.false(b.fits(big));
  t.throws(() => b.add(block(0, big)));
  b.take(0);
  b.add(block(0, big));
  t.true(pushFrameBytes(1, big) <= frameBytesMax);
});

test('a batch holds at most BLOCKS_PER_MESSAGE_MAX blocks', (t) => {
  const b = new BatchBuilder({ mapId: 0, attempt: 0, batchBytes: 8 << 20, frameBytesMax: FRAME_BYTES_MAX });
  const empty = block(0, 0);
  for (let i = 0; i < BLOCKS_PER_MESSAGE_MAX; i++) b.add(empty);
  t.true(b.isFull);
  t.false(b.fits(0));
});
