// Positioned reads of a closed object: bytes [offset, end) located from the
// index without reading what lies before them. An object's runs (in segment,
// then offset order) hold its bytes in order; every block of a run but its
// last is OBJECT_BLOCK_BYTES long (OBJECT_ROWS.md "Object bytes"), so the run
// and the block holding any byte follow from the run rows alone. A read reads
// whole blocks (header and bytes) a window at a time, checks each header
// (magic, header CRC32C, its object offset and index) and each block's data
// CRC32C, and hands on the requested part as blocks for a ReadStream: a block's
// `attempt` is the object offset of its bytes, its CRC32C that of the bytes sent.
import { crc32c } from '../../../native/ts/crc32c.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, decodeBlockHeader } from '../../../schemas/ts/run-format.js';
import { Codec } from '../../../schemas/ts/messages.js';
import type { Catalog } from '../engine/catalog/catalog.js';
import type { RunEntry } from '../engine/catalog/types.js';
import { segmentReadHandles } from '../engine/read-handles.js';
import { segmentPath } from '../engine/segment-names.js';
import type { TierSet } from '../engine/tiers.js';
import type { StoredBlock } from '../engine/types.js';
import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';
import { OBJECT_BLOCK_BYTES, OBJECT_READ_WINDOW_BYTES } from '../limits.js';
import { objectLog } from './object-rows.js';

const B = OBJECT_BLOCK_BYTES;
const RECORD = BLOCK_HEADER_BYTES + B;

/** One run of an object, placed: where its bytes start in the object and in the file. */
interface PlacedRun {
  entry: RunEntry;
  path: string;
  /** Object offset of the run's first byte. */
  start: number;
  dataBytes: number;
  /** Object block index of the run's first block. */
  firstBlock: number;
}

function corrupt(id: number, what: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, `object ${id}: ${what}`);
}

/** Places an object's runs; checks that they hold exactly `length` bytes in the layout objects are written in. */
export async function placeRuns(catalog: Catalog, tiers: TierSet, id: number, length: number): Promise<PlacedRun[]> {
  const log = objectLog(id);
  const [entries, segments] = await Promise.all([catalog.listRuns(log, 0, 1), catalog.listSegments(log)]);
  const tierOf = new Map(segments.map((s) => [s.segmentId, s.tierId]));
  const placed: PlacedRun[] = [];
  let start = 0;
  let block = 0;
  for (const entry of entries) {
    const dataBytes = entry.length - RUN_HEADER_BYTES - entry.blockCount * BLOCK_HEADER_BYTES;
    if (entry.blockCount < 1 || dataBytes <= (entry.blockCount - 1) * B || dataBytes > entry.blockCount * B) {
      throw corrupt(id, `run at segment ${entry.segmentId} offset ${entry.offset}: ${entry.blockCount} blocks cannot hold ${dataBytes} bytes in blocks of ${B}`);
    }
    if (!tierOf.has(entry.segmentId)) throw corrupt(id, `run in segment ${entry.segmentId}, which the index does not list`);
    const tier = tiers.get(tierOf.get(entry.segmentId) ?? null);
    if (tier === undefined) throw corrupt(id, `segment ${entry.segmentId} is on a tier this server does not have`);
    placed.push({ entry, path: segmentPath(tier.path, log, entry.segmentId), start, dataBytes, firstBlock: block });
    start += dataBytes;
    block += entry.blockCount;
  }
  if (start !== length) throw corrupt(id, `its entry says ${length} bytes, its runs hold ${start}`);
  return placed;
}

/**
 * Streams bytes [offset, offset + length) of object `id` (runs placed by
 * placeRuns) as arrays of blocks; each array's data is valid until the next
 * is asked for.
 */
export async function* readObject(id: number, runs: readonly PlacedRun[], offset: number, length: number): AsyncGenerator<StoredBlock[]> {
  const end = offset + length;
  let seq = 0;
  for (const run of runs) {
    const runEnd = run.start + run.dataBytes;
    if (runEnd <= offset || run.start >= end) continue;
    const lastBlock = run.entry.blockCount - 1;
    let j = Math.floor((Math.max(offset, run.start) - run.start) / B);
    const jEnd = Math.floor((Math.min(end, runEnd) - 1 - run.start) / B); // inclusive
    const handle = segmentReadHandles.acquire(run.path);
    try {
      const fh = await handle.handle.catch((err: unknown) => {
        if (isNotFound(err)) throw new PegasusError(ErrorCode.NOT_FOUND, `object ${id}: segment ${run.path} is gone (deleted meanwhile?)`, { cause: err });
        throw ioError(err, `open segment ${run.path}`);
      });
      while (j <= jEnd) {
        const count = Math.min(jEnd - j + 1, Math.max(1, Math.floor(OBJECT_READ_WINDOW_BYTES / B)));
        const lengths: number[] = [];
        for (let k = j; k < j + count; k++) lengths.push(k < lastBlock ? B : run.dataBytes - lastBlock * B);
        const bytes = lengths.reduce((n, l) => n + BLOCK_HEADER_BYTES + l, 0);
        const position = run.entry.offset + RUN_HEADER_BYTES + j * RECORD;
        const buf = Buffer.allocUnsafe(bytes);
        let got = 0;
        try {
          while (got < bytes) {
            const { bytesRead } = await fh.read(buf, got, bytes - got, position + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
        } catch (err) {
          throw ioError(err, `read ${run.path} at ${position + got}`);
        }
        if (got < bytes) throw corrupt(id, `segment ${run.path} ends at ${position + got}, inside the run at ${run.entry.offset}`);
        const out: StoredBlock[] = [];
        let at = 0;
        for (let k = 0; k < count; k++) {
          const index = run.firstBlock + j + k;
          const blockStart = run.start + (j + k) * B;
          let h;
          try {
            h = decodeBlockHeader(buf, at);
          } catch (err) {
            throw corrupt(id, `block ${index} in ${run.path} at ${position + at}: ${err instanceof Error ? err.message : String(err)}`);
          }
          if (h.seq !== index || h.attempt !== blockStart || h.storedLength !== lengths[k] || h.codec !== Codec.NONE || h.partition !== 0) {
            throw corrupt(id, `block header in ${run.path} at ${position + at} says block ${h.seq} at ${h.attempt} of ${h.storedLength} bytes; expected block ${index} at ${blockStart} of ${lengths[k]}`);
          }
          const data = buf.subarray(at + BLOCK_HEADER_BYTES, at + BLOCK_HEADER_BYTES + h.storedLength);
          const actual = crc32c(data);
          if (actual !== h.crc32c) {
            throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `object ${id}: block ${index} in ${run.path} has CRC32C ${actual.toString(16)}, its header says ${h.crc32c.toString(16)}`);
          }
          at += BLOCK_HEADER_BYTES + h.storedLength;
          const from = Math.max(offset, blockStart) - blockStart;
          const to = Math.min(end, blockStart + data.length) - blockStart;
          const part = data.subarray(from, to);
          const crc = from === 0 && to === data.length ? h.crc32c : crc32c(part);
          out.push({
            header: { attempt: blockStart + from, mapId: 0, partition: 0, batch: 0, seq: seq++, rawLength: part.length, storedLength: part.length, crc32c: crc, codec: Codec.NONE },
            data: part,
          });
        }
        yield out;
        j += count;
      }
    } finally {
      segmentReadHandles.release(handle);
    }
  }
}
