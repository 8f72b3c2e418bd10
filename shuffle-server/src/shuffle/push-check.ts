// Every check a push must pass before the server buffers it, in one place. The
// codec (schemas/ts/codec.ts) has already checked the frame's shape (vector
// bounds, string lengths, body length equal to the sum of stored lengths);
// the segment format only asserts its own invariants. What is checked here is
// what makes a push storable AND committable AND readable: a push that passes
// can never poison a partition for its readers.
//
//   - one (map, attempt, batch) per push, blocks numbered seq 0.. in order;
//   - map < num_maps, partition < num_partitions, batch < BATCHES_PER_ATTEMPT_MAX
//     (a batch at or past it could never be committed: CommitMap's count is
//     bounded by it);
//   - stored and raw lengths within BLOCK_BYTES_MAX;
//   - codec NONE: raw length == stored length; codec LZ4: at least the 4-byte
//     raw-length prefix plus one byte, and the prefix equals the raw length;
//     any other codec is refused;
//   - the CRC32C of every block's stored bytes equals its header's.
// Anything else is INVALID_ARGUMENT, MESSAGE_TOO_LARGE or CHECKSUM_MISMATCH.
import { crc32c } from '../../../native/ts/crc32c.js';
import { Codec, type BlockHeader } from '../../../schemas/ts/messages.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { BATCHES_PER_ATTEMPT_MAX, BLOCK_BYTES_MAX } from '../limits.js';

/** Bytes of the u32le raw-length prefix in front of an LZ4 block (schemas/FRAMING.md). */
export const LZ4_PREFIX_BYTES = 4;

export interface PushShape {
  numMaps: number;
  numPartitions: number;
}

function invalid(message: string): PegasusError {
  return new PegasusError(ErrorCode.INVALID_ARGUMENT, message);
}

/** Checks the blocks of one push against its shuffle; `body` holds their stored bytes back to back. */
export function checkPush(shape: PushShape, blocks: readonly BlockHeader[], body: Buffer): void {
  if (blocks.length === 0) return;
  const first = blocks[0]!;
  if (first.mapId >= shape.numMaps) throw invalid(`map ${first.mapId} >= num_maps ${shape.numMaps}`);
  if (first.batch >= BATCHES_PER_ATTEMPT_MAX) {
    throw invalid(`batch ${first.batch} of map ${first.mapId} attempt ${first.attempt} is not below the per-attempt maximum ${BATCHES_PER_ATTEMPT_MAX}; it could never be committed`);
  }
  let pos = 0;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    if (b.mapId !== first.mapId || b.attempt !== first.attempt || b.batch !== first.batch) {
      throw invalid(`block ${i} is of map ${b.mapId} attempt ${b.attempt} batch ${b.batch}; a push carries one (map, attempt, batch): ${first.mapId}/${first.attempt}/${first.batch}`);
    }
    if (b.seq !== i) throw invalid(`block ${i} has seq ${b.seq}; seq must count 0.. in order`);
    if (b.partition >= shape.numPartitions) throw invalid(`block ${i} partition ${b.partition} >= num_partitions ${shape.numPartitions}`);
    if (b.storedLength > BLOCK_BYTES_MAX || b.rawLength > BLOCK_BYTES_MAX) {
      throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `block ${i} is ${b.storedLength} stored / ${b.rawLength} raw bytes, limit ${BLOCK_BYTES_MAX}`);
    }
    const stored = body.subarray(pos, pos + b.storedLength);
    checkLengths(i, b, stored);
    const actual = crc32c(stored);
    if (actual !== b.crc32c) {
      throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, `block ${i} (map ${b.mapId} partition ${b.partition} batch ${b.batch}) has CRC32C ${actual.toString(16)}, header says ${b.crc32c.toString(16)}`);
    }
    pos += b.storedLength;
  }
}

/** The codec's rule for raw and stored lengths. */
function checkLengths(i: number, b: BlockHeader, stored: Buffer): void {
  switch (b.codec) {
    case Codec.NONE:
      if (b.rawLength !== b.storedLength) throw invalid(`block ${i} is uncompressed but its raw length ${b.rawLength} differs from its stored length ${b.storedLength}`);
      return;
    case Codec.LZ4: {
      if (b.storedLength <= LZ4_PREFIX_BYTES) throw invalid(`block ${i} is LZ4 with ${b.storedLength} stored bytes; it needs the ${LZ4_PREFIX_BYTES}-byte raw-length prefix and data`);
      const prefix = stored.readUInt32LE(0);
      if (prefix !== b.rawLength) throw invalid(`block ${i} is LZ4 and its prefix says ${prefix} raw bytes, its header ${b.rawLength}`);
      return;
    }
    default:
      throw invalid(`block ${i} has unknown codec ${String(b.codec)}`);
  }
}
