// The pool read windows are read into (engine/read-buffers.ts): a BufferPool
// whose idle buffers stay within READ_BUFFERS_IDLE_BYTES_MAX, whatever the
// memory budget; a window reuses a released buffer of its size class.
import test from 'ava';
import { readBuffers } from '../../src/engine/read-buffers.js';
import { READ_BUFFERS_IDLE_BYTES_MAX } from '../../src/limits.js';

const MiB = 1024 * 1024;

test('a released window buffer is taken again by a window of its size class, not by a larger one', (t) => {
  readBuffers.clear();
  const a = readBuffers.take(100 * 1024);
  t.is(a.bytes.length, 100 * 1024);
  readBuffers.release(a);
  t.is(readBuffers.idleBytes, a.capacity);
  const larger = readBuffers.take(a.capacity + 1);
  t.not(larger.bytes.buffer, a.bytes.buffer, 'a larger class is a new buffer');
  const again = readBuffers.take(a.capacity - 1);
  t.is(again.bytes.buffer, a.bytes.buffer, 'the same class reuses it');
  readBuffers.release(again);
  readBuffers.release(larger);
  readBuffers.clear();
  t.is(readBuffers.idleBytes, 0);
});

test('idle window buffers stay within READ_BUFFERS_IDLE_BYTES_MAX', (t) => {
  readBuffers.clear();
  const taken = Array.from({ length: READ_BUFFERS_IDLE_BYTES_MAX / (4 * MiB) + 3 }, () => readBuffers.take(4 * MiB));
  for (const b of taken) readBuffers.release(b);
  t.true(readBuffers.idleBytes <= READ_BUFFERS_IDLE_BYTES_MAX, `${readBuffers.idleBytes} idle`);
  t.true(readBuffers.idleBytes >= READ_BUFFERS_IDLE_BYTES_MAX - 4 * MiB, `${readBuffers.idleBytes} idle: what fits is kept`);
  readBuffers.clear();
});
