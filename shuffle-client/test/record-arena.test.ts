// RecordArena against a plain oracle: every record comes back once, in its
// partition's block(s), in write order; blocks respect blockBytes; the
// accounting counts chunks, not partitions.
import test from 'ava';
import { RecordArena } from '../src/record-arena.js';
import { decodeRecords, RECORD_LENGTH_BYTES } from '../src/record-codec.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

test('takeAll returns every partition\'s records in write order, partitions in order, blocks cut at blockBytes', (t) => {
  const random = prng(5);
  const blockBytes = 16 * 1024;
  const arena = new RecordArena(1000, blockBytes, 64 * 1024);
  const oracle = new Map<number, string[]>();
  for (let i = 0; i < 20_000; i++) {
    const p = i % 7 === 0 ? 3 : Math.floor(random() * 1000); // partition 3 is hot: several blocks
    // Lengths on both sides of the word-copy limit, most not a multiple of 4;
    // varied letters, so a byte copied to the wrong place shows.
    const length = 5 + Math.floor(random() * 400);
    let r = `r${i}-`;
    while (r.length < length) r += String.fromCharCode(97 + Math.floor(random() * 26));
    arena.append(p, Buffer.from(r));
    oracle.set(p, [...(oracle.get(p) ?? []), r]);
  }
  arena.append(999, Buffer.alloc(10_000, 1)); // larger than a block: a block of its own
  oracle.set(999, [...(oracle.get(999) ?? []), Buffer.alloc(10_000, 1).toString()]);
  const used = arena.bytesUsed;
  const blocks = arena.takeAll();
  t.is(arena.bytesUsed, 0);
  t.is(arena.bytesAllocated, 0);
  t.is(arena.activeCount, 0);
  t.is(blocks.reduce((a, b) => a + b.raw.length, 0), used);
  const got = new Map<number, string[]>();
  let last = -1;
  for (const b of blocks) {
    t.true(b.partition >= last, 'partitions in order');
    last = b.partition;
    const recs = decodeRecords(b.raw);
    t.true(b.raw.length <= blockBytes || recs.length === 1, `block of ${b.raw.length} bytes with ${recs.length} records`);
    got.set(b.partition, [...(got.get(b.partition) ?? []), ...recs.map((r) => r.toString())]);
  }
  t.true(blocks.filter((b) => b.partition === 3).length > 5, 'the hot partition is cut into several blocks');
  const sorted = (m: Map<number, string[]>): [number, string[]][] => [...m].sort((a, b) => a[0] - b[0]);
  t.deepEqual(sorted(got), sorted(oracle));
});

test('the arena counts its chunks: 100,000 partitions of one small record each cost their bytes, not a buffer each', (t) => {
  const chunkBytes = 64 * 1024;
  const arena = new RecordArena(100_000, 256 * 1024, chunkBytes);
  for (let p = 0; p < 100_000; p++) arena.append(p, Buffer.alloc(20));
  const perRecord = 4 + RECORD_LENGTH_BYTES + 20;
  t.is(arena.bytesUsed, 100_000 * (RECORD_LENGTH_BYTES + 20));
  t.true(arena.bytesAllocated >= 100_000 * perRecord && arena.bytesAllocated <= 100_000 * perRecord + chunkBytes, `${arena.bytesAllocated} bytes`);
  const blocks = arena.takeAll();
  t.is(blocks.length, 100_000);
  // Appending after takeAll starts afresh.
  arena.append(5, Buffer.from('again'));
  t.deepEqual(arena.takeAll().map((b) => [b.partition, decodeRecords(b.raw).map(String)]), [[5, ['again']]]);
});
