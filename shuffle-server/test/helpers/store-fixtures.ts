// Shared pieces of the store tests: temporary directories and deterministic bytes.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function tempDir(prefix = 'pegasus-'): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), prefix));
}

/** Deterministic bytes (xorshift from `seed`) so failures reproduce. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
