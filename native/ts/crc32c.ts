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

// CRC32C combination: the CRC of A‖B from crc(A), crc(B) and |B|, without
// reading B. Used where a block's CRC is already known and checked (a run's
// CRC over its blocks, segment-log.ts), so long data is not read twice.
// Polynomial arithmetic modulo the CRC-32C polynomial in the reflected bit
// order CRC32C uses (bit 31 is x^0): crc(A‖B) = crc(A)·x^(8|B|) + crc(B).
const CASTAGNOLI_REFLECTED = 0x82f63b78;

/** a·b modulo the polynomial (reflected). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ CASTAGNOLI_REFLECTED : b >>> 1;
  }
  return p >>> 0;
}

/** X_POW_2K[k] = x^(2^k) modulo the polynomial, for every k a length below 2^53 bytes needs. */
const X_POW_2K: number[] = (() => {
  const t = [0x40000000]; // x^1
  for (let k = 1; k < 64; k++) t.push(multModP(t[k - 1]!, t[k - 1]!));
  return t;
})();

/** x^(n·2^k) modulo the polynomial. */
function xPowModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X_POW_2K[k]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** CRC32C of A‖B given crc(A), crc(B) and the length of B in bytes (< 2^53 / 8). */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multModP(xPowModP(lengthB, 3), crcA) ^ crcB) >>> 0;
}
