// The pool of buffers read windows are read into (run-reader.ts readRuns()
// with `reuseWindows`): a BufferPool (buffer-pool.ts) whose idle buffers are
// bounded by READ_BUFFERS_IDLE_BYTES_MAX rather than by the memory budget. A
// read that streams its windows out as it goes (the WebSocket read stream sends
// a window's blocks before it asks for the next one) needs a window's bytes
// only until then, so the next window, of this read or of another, can be read
// into the same memory.
//
// Why. A fresh Buffer per window is memory the process touches for the first
// time: page faults and, on the VMs measured here, costly first touches; and
// its external memory drives V8's garbage collections. A Spark job reading 2
// GiB allocated 2 GiB of windows this way.
//
// Thread contract: event loop only.
import { READ_BUFFERS_IDLE_BYTES_MAX } from '../limits.js';
import { BufferPool } from './buffer-pool.js';

/** The process's pool: every log's reads share it. */
export const readBuffers = new BufferPool(() => READ_BUFFERS_IDLE_BYTES_MAX);
