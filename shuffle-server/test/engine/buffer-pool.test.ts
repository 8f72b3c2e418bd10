import test from 'ava';

import { BufferPool, sizeClass } from '../../src/engine/buffer-pool.js';

const KiB = 1024;
const MiB = 1024 * KiB;

test('size classes waste at most an eighth, at least a 64 KiB step', (t) => {
  t.is(sizeClass(0), 0);
  t.is(sizeClass(1), 64 * KiB);
  t.is(sizeClass(64 * KiB), 64 * KiB);
  t.is(sizeClass(64 * KiB + 1), 128 * KiB);
  t.is(sizeClass(MiB), MiB);
  t.is(sizeClass(MiB + 1), MiB + 128 * KiB);
  for (let n = 512 * KiB; n < 64 * MiB; n = Math.floor(n * 1.37) + 11) {
    const c = sizeClass(n);
    t.true(c >= n && c <= n * 1.125 + 1, `class ${c} of ${n}`);
    t.is(sizeClass(c), c, 'a class is its own class');
  }
});

test('a released buffer is reused for the next copy of its class, with the new bytes', (t) => {
  const pool = new BufferPool(() => 64 * MiB);
  const a = pool.copyOf(Buffer.alloc(1000, 1));
  t.is(a.bytes.length, 1000);
  t.is(a.capacity, 64 * KiB);
  pool.release(a);
  t.is(pool.idleBytes, 64 * KiB);
  const b = pool.copyOf(Buffer.alloc(2000, 2));
  t.is(b.bytes.buffer, a.bytes.buffer, 'same memory');
  t.deepEqual(b.bytes, Buffer.alloc(2000, 2));
  t.is(pool.idleBytes, 0);
  t.is(pool.reuseRatio, 0.5);
});

test('a buffer released twice is refused', (t) => {
  const pool = new BufferPool(() => 64 * MiB);
  const a = pool.copyOf(Buffer.alloc(10));
  pool.release(a);
  t.throws(() => pool.release(a), { message: /released twice/ });
});

test('idle buffers stay within the room; a fresh allocation past it drops idle ones', (t) => {
  let room = 256 * KiB;
  const pool = new BufferPool(() => room);
  const held = [1, 2, 3, 4, 5].map(() => pool.copyOf(Buffer.alloc(64 * KiB)));
  for (const h of held) pool.release(h);
  t.is(pool.idleBytes, 256 * KiB, 'only what fits the room is kept');
  room = 128 * KiB;
  const big = pool.copyOf(Buffer.alloc(MiB)); // a new class: allocates, trimming idle to fit the room
  t.true(pool.idleBytes <= 128 * KiB);
  pool.release(big); // larger than the room: left to the collector
  t.true(pool.idleBytes <= 128 * KiB);
  room = 0;
  pool.release(pool.copyOf(Buffer.alloc(64 * KiB)));
  t.is(pool.idleBytes, 0);
});

test('idle buffers are kept while pushes come, even seconds apart, and dropped once none came for idleMs', (t) => {
  let now = 1_000;
  const pool = new BufferPool(() => 64 * MiB, 30_000, () => now);
  pool.release(pool.copyOf(Buffer.alloc(10)));
  now += 29_999;
  pool.dropIdleIfUnused(); // a quiet spell shorter than idleMs: kept
  t.is(pool.idleBytes, 64 * KiB);
  const again = pool.copyOf(Buffer.alloc(10)); // reuses it
  t.is(pool.reuseRatio, 0.5);
  pool.release(again);
  now += 29_999;
  pool.dropIdleIfUnused(); // idleMs counts from the last take
  t.is(pool.idleBytes, 64 * KiB);
  now += 1;
  pool.dropIdleIfUnused(); // none for idleMs: dropped
  t.is(pool.idleBytes, 0);
});
