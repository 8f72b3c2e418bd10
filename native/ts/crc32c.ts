// CRC32C (Castagnoli) for every block and header. Uses the native module's
// hardware CRC32C when it is loaded, else @node-rs/crc32 (SSE 4.2 where the CPU
// has it, a table elsewhere). Both give the same values; a test checks them
// against each other and a bitwise reference on random data.
import { crc32c as portableCrc32c } from '@node-rs/crc32';

import { nativeBinding } from './index.js';

export type Crc32c = (data: Uint8Array, initial?: number) => number;

/** The portable implementation, always available. */
export const crc32cPortable: Crc32c = (data, initial = 0) => portableCrc32c(data as Buffer, initial);

const native = nativeBinding();

/** The native (hardware) implementation, or null when the native module is not loaded. */
export const crc32cNative: Crc32c | null = native === null ? null : (data, initial = 0) => native.crc32c(data, initial);

/** CRC32C of `data`, continuing from `initial` (0 to start). */
export const crc32c: Crc32c = crc32cNative ?? crc32cPortable;

/** Which implementation `crc32c` is. */
export const crc32cImplementation: 'native' | 'portable' = crc32cNative === null ? 'portable' : 'native';
