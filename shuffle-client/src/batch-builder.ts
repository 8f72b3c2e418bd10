// Collects a writer's finished blocks into batches. A batch is exactly one
// PushBlocks message of one (map, attempt, batch); its blocks are numbered
// seq 0.. in the order they were added, which is the order the writer sealed
// them, so a partition's records keep their write order across blocks.
// Pure (no I/O).
import { BLOCKS_PER_MESSAGE_MAX } from '../../schemas/ts/limits.js';
import { BLOCK_HEADER_WIRE_BYTES, type BlockHeader, type Codec } from '../../schemas/ts/messages.js';
import { FRAME_PREFIX_BYTES } from '../../schemas/ts/codec.js';
import { PUSH_ENVELOPE_BYTES_BASE } from './limits.js';

/** A compressed, checksummed block not yet in a batch. */
export interface SealedBlock {
  partition: number;
  rawLength: number;
  stored: Buffer;
  codec: Codec;
  crc32c: number;
}

/** One PushBlocks worth of blocks: headers in seq order and their stored bytes. */
export interface Batch {
  batch: number;
  headers: BlockHeader[];
  parts: Buffer[];
  storedBytes: number;
  rawBytes: number;
}

/** Upper bound of the frame size of a PushBlocks with these contents. */
export function pushFrameBytes(blockCount: number, storedBytes: number): number {
  return FRAME_PREFIX_BYTES + PUSH_ENVELOPE_BYTES_BASE + blockCount * BLOCK_HEADER_WIRE_BYTES + storedBytes;
}

/** Largest stored block that fits a PushBlocks frame on its own. */
export function blockBytesFitting(frameBytesMax: number): number {
  return frameBytesMax - pushFrameBytes(1, 0);
}

export interface BatchBuilderOptions {
  mapId: number;
  attempt: number;
  /** Stored bytes at which a batch counts as full. */
  batchBytes: number;
  /** The connection's frame bound; no batch's frame exceeds it. */
  frameBytesMax: number;
}

export class BatchBuilder {
  private readonly opts: BatchBuilderOptions;
  private blocks: SealedBlock[] = [];
  /** Stored bytes of the open batch. */
  storedBytes = 0;
  private rawBytes = 0;

  constructor(opts: BatchBuilderOptions) {
    this.opts = opts;
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  get isEmpty(): boolean {
    return this.blocks.length === 0;
  }

  /** True if a block of `storedLength` bytes can join the open batch without breaking a frame bound. */
  fits(storedLength: number): boolean {
    return this.blocks.length < BLOCKS_PER_MESSAGE_MAX &&
      pushFrameBytes(this.blocks.length + 1, this.storedBytes + storedLength) <= this.opts.frameBytesMax;
  }

  /** True once the open batch should be pushed. */
  get isFull(): boolean {
    return this.storedBytes >= this.opts.batchBytes || this.blocks.length >= BLOCKS_PER_MESSAGE_MAX;
  }

  /** Adds a block; the caller has checked fits() (an empty batch fits any block that fits a frame). */
  add(block: SealedBlock): void {
    if (!this.fits(block.stored.length)) {
      throw new Error(`BatchBuilder.add: block of ${block.stored.length} bytes does not fit (${this.blocks.length} blocks, ${this.storedBytes} bytes)`);
    }
    this.blocks.push(block);
    this.storedBytes += block.stored.length;
    this.rawBytes += block.rawLength;
  }

  /** Closes the open batch as number `batch` and starts an empty one. */
  take(batch: number): Batch {
    const { mapId, attempt } = this.opts;
    const headers: BlockHeader[] = new Array(this.blocks.length);
    const parts: Buffer[] = new Array(this.blocks.length);
    for (let seq = 0; seq < this.blocks.length; seq++) {
      const b = this.blocks[seq]!;
      headers[seq] = {
        attempt, mapId, partition: b.partition, batch, seq,
        rawLength: b.rawLength, storedLength: b.stored.length, crc32c: b.crc32c, codec: b.codec,
      };
      parts[seq] = b.stored;
    }
    const out: Batch = { batch, headers, parts, storedBytes: this.storedBytes, rawBytes: this.rawBytes };
    this.blocks = [];
    this.storedBytes = 0;
    this.rawBytes = 0;
    return out;
  }
}
