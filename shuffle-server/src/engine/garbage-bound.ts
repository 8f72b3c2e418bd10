// Bounds memory held by dead Buffers. Pushed data lives in Buffers outside the
// V8 heap; after a flush releases hundreds of MiB of them, V8 may collect their
// small wrappers (and so free the memory) long after, because the JS heap
// itself hardly grows. The process then holds budget + garbage. After a flush,
// if external memory exceeds what is still in use by more than
// GARBAGE_BYTES_MAX, one full collection is forced. The heap is a few MiB, so
// a collection takes milliseconds, and it happens at most once per flush.
import v8 from 'node:v8';
import vm from 'node:vm';

import { GARBAGE_BYTES_MAX } from '../limits.js';


let collect: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Forces a collection when dead external memory exceeds the bound; returns whether it did. */
export function boundGarbage(liveBytes: number): boolean {
  const gc = collector();
  if (gc === null) return false;
  if (process.memoryUsage().external - liveBytes <= GARBAGE_BYTES_MAX) return false;
  gc();
  return true;
}
