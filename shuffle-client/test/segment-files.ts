// Reads the real server's segment files (layout: shuffle-server/src/store/
// SEGMENT_FORMAT.md, runs: schemas/RUN_FORMAT.md) just far enough to find where each block's stored bytes
// sit, so a test can damage a block's data on disk and watch the reader catch
// it. Written from the format document, not from the server's codec, so it is a
// second witness of the layout. Headers are left intact: the server checks
// those itself and would refuse the read with CORRUPT_DATA.
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT_HEADER_BYTES = 32;
const RUN_HEADER_BYTES = 32;
const BLOCK_HEADER_BYTES = 48;
const RUN_MAGIC = 'PRUN';
const BLOCK_MAGIC = 'PBLK';

/** Where one block's stored bytes are on disk, and whose block it is. */
export interface SegmentBlock {
  file: string;
  /** Offset of the first stored byte (just after the block record header). */
  dataOffset: number;
  storedLength: number;
  attempt: number;
  mapId: number;
  partition: number;
  batch: number;
  seq: number;
}

export function shuffleDirOf(dataDir: string, appId: string, shuffleId: number): string {
  return join(dataDir, 'shuffles', appId, String(shuffleId));
}

/** Every block of every segment of a shuffle, in file order. */
export async function listSegmentBlocks(dataDir: string, appId: string, shuffleId: number): Promise<SegmentBlock[]> {
  const dir = shuffleDirOf(dataDir, appId, shuffleId);
  const names = (await readdir(dir)).filter((n) => /^[0-9]{20}\.seg$/.test(n)).sort();
  const out: SegmentBlock[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const bytes = await readFile(file);
    let pos = SEGMENT_HEADER_BYTES;
    while (pos < bytes.length) {
      const magic = bytes.toString('latin1', pos, pos + 4);
      if (magic !== RUN_MAGIC) throw new Error(`${file} @${pos}: expected run magic, found ${JSON.stringify(magic)}`);
      const blockCount = bytes.readUInt32LE(pos + 12);
      const runBytes = Number(bytes.readBigUInt64LE(pos + 16));
      let at = pos + RUN_HEADER_BYTES;
      for (let i = 0; i < blockCount; i++) {
        const bm = bytes.toString('latin1', at, at + 4);
        if (bm !== BLOCK_MAGIC) throw new Error(`${file} @${at}: expected block magic, found ${JSON.stringify(bm)}`);
        const storedLength = bytes.readUInt32LE(at + 36);
        out.push({
          file,
          dataOffset: at + BLOCK_HEADER_BYTES,
          storedLength,
          attempt: Number(bytes.readBigUInt64LE(at + 8)),
          mapId: bytes.readUInt32LE(at + 16),
          partition: bytes.readUInt32LE(at + 20),
          batch: bytes.readUInt32LE(at + 24),
          seq: bytes.readUInt32LE(at + 28),
        });
        at += BLOCK_HEADER_BYTES + storedLength;
      }
      if (at !== pos + runBytes) throw new Error(`${file} @${pos}: blocks fill ${at - pos} bytes, run header says ${runBytes}`);
      pos += runBytes;
    }
  }
  return out;
}

/** Flips one bit in the middle of a block's stored bytes, in place. */
export async function flipDataByte(block: SegmentBlock): Promise<void> {
  const fh = await open(block.file, 'r+');
  try {
    const at = block.dataOffset + (block.storedLength >> 1);
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, at);
    one[0]! ^= 0x40;
    await fh.write(one, 0, 1, at);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
