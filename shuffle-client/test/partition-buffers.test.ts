import test from 'ava';
import { PARTITION_BUFFER_ALIGN_BYTES, PARTITION_BUFFER_BYTES_INITIAL } from '../src/limits.js';
import { PartitionBuffers, initialBufferBytes } from '../src/partition-buffers.js';
import { decodeRecords, RECORD_LENGTH_BYTES } from '../src/record-codec.js';

test('records come back per partition, in order', (t) => {
  const pb = new PartitionBuffers(4, 64 * 1024);
  for (let i = 0; i < 100; i++) pb.append(i % 4, Buffer.from(`r${i}`));
  const p1 = decodeRecords(pb.take(1)!).map((r) => r.toString());
  t.deepEqual(p1, Array.from({ length: 25 }, (_, k) => `r${4 * k + 1}`));
  t.is(pb.take(1), undefined, 'taking empties the partition');
  t.is(pb.activeCount, 3);
});

test('accounting: used and allocated bytes follow appends and takes', (t) => {
  const pb = new PartitionBuffers(3, 64 * 1024);
  pb.append(0, Buffer.alloc(10));
  pb.append(2, Buffer.alloc(20));
  t.is(pb.bytesUsed, 2 * RECORD_LENGTH_BYTES + 30);
  t.is(pb.bytesAllocated, 2 * PARTITION_BUFFER_BYTES_INITIAL);
  pb.take(0);
  pb.take(2);
  t.is(pb.bytesUsed, 0);
  t.is(pb.bytesAllocated, 0);
  t.is(pb.activeCount, 0);
});

test('buffers grow by doubling up to the block size and keep their contents', (t) => {
  const blockBytes = 64 * 1024;
  const pb = new PartitionBuffers(1, blockBytes);
  const rec = Buffer.alloc(1000, 1);
  let n = 0;
  while (pb.usedBytes(0) + RECORD_LENGTH_BYTES + rec.length <= blockBytes) {
    pb.append(0, rec);
    n++;
  }
  t.true(pb.bytesAllocated <= blockBytes);
  const recs = decodeRecords(pb.take(0)!);
  t.is(recs.length, n);
  t.true(recs.every((r) => r.equals(rec)));
});

test('a partition that filled a block starts its next buffer block-sized', (t) => {
  const blockBytes = 16 * 1024;
  const pb = new PartitionBuffers(2, blockBytes);
  pb.append(0, Buffer.alloc(blockBytes - RECORD_LENGTH_BYTES));
  pb.take(0);
  pb.append(0, Buffer.alloc(1));
  pb.append(1, Buffer.alloc(1));
  t.is(pb.bytesAllocated, blockBytes + PARTITION_BUFFER_BYTES_INITIAL);
});

test('a record larger than the block size gets a buffer of its own size', (t) => {
  const pb = new PartitionBuffers(1, 8 * 1024);
  pb.append(0, Buffer.alloc(20_000, 3));
  t.is(pb.bytesAllocated, 20_000 + RECORD_LENGTH_BYTES);
  t.is(decodeRecords(pb.take(0)!)[0]!.length, 20_000);
});

test('activeInOrder lists the partitions holding records in partition order', (t) => {
  const pb = new PartitionBuffers(5, 64 * 1024);
  pb.append(3, Buffer.alloc(300));
  pb.append(1, Buffer.alloc(100));
  pb.append(4, Buffer.alloc(500));
  t.deepEqual([...pb.activeInOrder()], [1, 3, 4]);
  pb.take(3);
  t.deepEqual([...pb.activeInOrder()], [1, 4]);
});

test('first buffers share the buffer memory equally when partitions are many, or fit their first record', (t) => {
  t.is(initialBufferBytes(100, 48 << 20, 256 << 10), PARTITION_BUFFER_BYTES_INITIAL, 'few partitions: the usual first size');
  const many = initialBufferBytes(100_000, 48 << 20, 256 << 10);
  t.true(many < PARTITION_BUFFER_BYTES_INITIAL && many * 100_000 <= 48 << 20, `${many} bytes each`);
  t.is(many % PARTITION_BUFFER_ALIGN_BYTES, 0);
  t.is(initialBufferBytes(1, 48 << 20, 4096), 4096, 'never above a block');
  const share = new PartitionBuffers(100_000, 256 << 10, many);
  for (let p = 0; p < 100_000; p++) share.append(p, Buffer.alloc(20));
  t.is(share.bytesAllocated, 100_000 * many, 'one first-size buffer per partition');
  // A share below one record: buffers start at the record's size and double.
  const tight = new PartitionBuffers(1_000_000, 256 << 10, initialBufferBytes(1_000_000, 12 << 20, 256 << 10));
  for (let p = 0; p < 1000; p++) tight.append(p, Buffer.alloc(24));
  t.is(tight.bytesAllocated, 1000 * 32, 'a 28-byte record takes 32 bytes');
  for (let p = 0; p < 1000; p++) tight.append(p, Buffer.alloc(24));
  t.is(tight.bytesAllocated, 1000 * 64, 'two take 64');
  t.is(decodeRecords(tight.take(7)!).length, 2);
});
