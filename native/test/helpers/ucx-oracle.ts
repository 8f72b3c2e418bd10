// Shared checks for the UCX tests: random reads compared against the files' bytes
// (the oracle is the file content the test wrote itself).
import type { ExecutionContext } from 'ava';

import type { RegionInfo } from './ucx-child.js';
import { rng } from './ucx-child.js';

type Client = import('../../binding.cjs').UcxClient;

export interface Read {
  region: number;
  offset: number;
  length: number;
}

export function toUcxReads(regions: RegionInfo[], reads: Read[]) {
  return reads.map((r) => ({
    remoteAddress: regions[r.region]!.address + BigInt(r.offset),
    rkey: regions[r.region]!.rkey,
    length: r.length,
  }));
}

export function expected(files: Buffer[], reads: Read[]): Buffer {
  return Buffer.concat(reads.map((r) => files[r.region]!.subarray(r.offset, r.offset + r.length)));
}

/** `gets` calls of 1..8 reads each at random offsets and lengths (mostly not page aligned). */
export async function randomGetsMatchFiles(
  t: ExecutionContext,
  client: Client,
  regions: RegionInfo[],
  files: Buffer[],
  opts: { seed: number; gets: number; maxReadBytes: number },
): Promise<number> {
  const next = rng(opts.seed);
  let bytes = 0;
  for (let g = 0; g < opts.gets; g++) {
    const reads: Read[] = [];
    const n = 1 + next(8);
    for (let i = 0; i < n; i++) {
      const region = next(regions.length);
      const size = files[region]!.length;
      const length = 1 + next(Math.min(size, opts.maxReadBytes));
      const offset = next(size - length + 1);
      reads.push({ region, offset, length });
    }
    const got = await client.get(toUcxReads(regions, reads), 30_000);
    const want = expected(files, reads);
    if (!got.equals(want)) {
      t.fail(`get ${g} (${JSON.stringify(reads)}) returned bytes that differ from the files`);
      return bytes;
    }
    bytes += got.length;
  }
  return bytes;
}
