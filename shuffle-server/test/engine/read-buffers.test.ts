// The pool of read window buffers (engine/read-buffers.ts): power-of-two
// classes from READ_BUFFER_BYTES_MIN, reuse of a given-back buffer, and the
// bound on what it keeps idle.
import test from 'ava';
import { ReadBufferPool } from '../../src/engine/read-buffers.js';
import { READ_BUFFER_BYTES_MIN } from '../../src/limits.js';

const KiB = 1024;

test('a window takes the smallest power-of-two class that holds it, at least the minimum', (t) => {
  const pool = new ReadBufferPool(64 * 1024 * KiB);
  t.is(pool.take(1).length, READ_BUFFER_BYTES_MIN);
  t.is(pool.take(READ_BUFFER_BYTES_MIN).length, READ_BUFFER_BYTES_MIN);
  t.is(pool.take(READ_BUFFER_BYTES_MIN + 1).length, 2 * READ_BUFFER_BYTES_MIN);
  t.is(pool.take(3000 * KiB).length, 4096 * KiB);
  t.throws(() => pool.take(0));
});

test('a given-back buffer is taken again by a window of its class, not by a larger one', (t) => {
  const pool = new ReadBufferPool(64 * 1024 * KiB);
  const a = pool.take(100 * KiB);
  pool.give(a);
  t.is(pool.idleBytes, a.length);
  t.not(pool.take(a.length + 1), a, 'a larger class is a new buffer');
  t.is(pool.take(10), a, 'the same class reuses it');
  t.is(pool.idleBytes, 0);
  t.is(pool.reuseRatio, 1 / 3);
});

test('idle buffers stay within the bound; clear() drops them', (t) => {
  const pool = new ReadBufferPool(3 * READ_BUFFER_BYTES_MIN);
  const taken = [1, 2, 3, 4].map(() => pool.take(1));
  for (const b of taken) pool.give(b);
  t.is(pool.idleBytes, 3 * READ_BUFFER_BYTES_MIN, 'the fourth is left to the collector');
  pool.clear();
  t.is(pool.idleBytes, 0);
});
