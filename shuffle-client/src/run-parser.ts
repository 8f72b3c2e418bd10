// Parses runs fetched raw from a server's segment memory (UCX reads). The bytes
// are a run exactly as laid out in a segment file (shuffle-server/src/store/
// SEGMENT_FORMAT.md): a run header, then block records back to back. A run may
// arrive in pieces; the parser keeps at most one partial block record between
// pieces. Every header's own CRC is checked by the decoders, the run must match
// its ReadPlan location (partition, block count, length, map bounds) and, when
// the plan carries one, the CRC32C of the whole run. Anything else is
// CORRUPT_DATA or CHECKSUM_MISMATCH; block data CRCs are the caller's.
import { crc32c } from '../../native/ts/crc32c.js';
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import type { BlockHeader, RunLocation } from '../../schemas/ts/messages.js';
import {
  BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, decodeBlockHeader, decodeRunHeader,
} from '../../shuffle-server/src/engine/segment-format.js';

const EMPTY = Buffer.alloc(0);

export interface RunBlock {
  header: BlockHeader;
  /** The block's stored bytes: a view of the fetched piece. */
  data: Buffer;
}

export class RunParser {
  private pending: Buffer = EMPTY;
  private consumed = 0;
  private blocks = 0;
  private headerSeen = false;
  private crc = 0;

  constructor(private readonly run: RunLocation, private readonly where: string) {}

  private corrupt(what: string, cause?: unknown): PegasusError {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return new PegasusError(ErrorCode.CORRUPT_DATA,
      `${this.where}: run of partition ${this.run.partition} (${this.run.length} bytes, ${this.run.blockCount} blocks) at byte ${this.consumed}: ${what}${why}`);
  }

  /** Takes the next piece of the run; returns the block records it completes. */
  feed(piece: Buffer): RunBlock[] {
    if (this.run.crc32c !== null) this.crc = crc32c(piece, this.crc);
    const out: RunBlock[] = [];
    let rest = piece;
    // A record split across pieces: copy only what completes it, then parse the
    // rest of the piece in place.
    while (this.pending.length > 0 && rest.length > 0) {
      const need = this.pendingNeed();
      const take = Math.min(need, rest.length);
      this.pending = Buffer.concat([this.pending, rest.subarray(0, take)]);
      rest = rest.subarray(take);
      if (take < need) return out;
      const used = this.parse(this.pending, out);
      this.pending = used === this.pending.length ? EMPTY : this.pending.subarray(used);
    }
    const used = this.parse(rest, out);
    // Only a partial record is kept, copied so the piece can be dropped.
    if (used < rest.length) this.pending = Buffer.from(rest.subarray(used));
    return out;
  }

  /** Bytes that complete what `pending` starts: the run header, a block header, or a block record. */
  private pendingNeed(): number {
    const have = this.pending.length;
    if (!this.headerSeen) return RUN_HEADER_BYTES - have;
    if (have < BLOCK_HEADER_BYTES) return BLOCK_HEADER_BYTES - have;
    return BLOCK_HEADER_BYTES + this.blockHeaderAt(this.pending, 0).storedLength - have;
  }

  private blockHeaderAt(buf: Buffer, at: number): BlockHeader {
    let h: BlockHeader;
    try {
      h = decodeBlockHeader(buf, at);
    } catch (err) {
      throw this.corrupt(`bad header of block ${this.blocks}`, err);
    }
    if (h.partition !== this.run.partition || h.mapId < this.run.mapMin || h.mapId > this.run.mapMax) {
      throw this.corrupt(`block ${this.blocks} of partition ${h.partition} map ${h.mapId} outside maps ${this.run.mapMin}..${this.run.mapMax}`);
    }
    if (this.consumed + BLOCK_HEADER_BYTES + h.storedLength > this.run.length) {
      throw this.corrupt(`block ${this.blocks} of ${BLOCK_HEADER_BYTES + h.storedLength} bytes runs past the run's end`);
    }
    return h;
  }

  /** Parses the run header (once) and every complete block record of `buf`; returns the bytes used. */
  private parse(buf: Buffer, out: RunBlock[]): number {
    let at = 0;
    if (!this.headerSeen) {
      if (buf.length < RUN_HEADER_BYTES) return 0;
      let h;
      try {
        h = decodeRunHeader(buf, 0);
      } catch (err) {
        throw this.corrupt('bad run header', err);
      }
      if (h.partition !== this.run.partition || h.blockCount !== this.run.blockCount || h.runBytes !== this.run.length) {
        throw this.corrupt(`run header says partition ${h.partition}, ${h.blockCount} blocks, ${h.runBytes} bytes`);
      }
      this.headerSeen = true;
      at = RUN_HEADER_BYTES;
      this.consumed = RUN_HEADER_BYTES;
    }
    while (buf.length - at >= BLOCK_HEADER_BYTES) {
      const h = this.blockHeaderAt(buf, at);
      const recordBytes = BLOCK_HEADER_BYTES + h.storedLength;
      if (buf.length - at < recordBytes) break;
      out.push({ header: h, data: buf.subarray(at + BLOCK_HEADER_BYTES, at + recordBytes) });
      at += recordBytes;
      this.consumed += recordBytes;
      this.blocks++;
      if (this.blocks > this.run.blockCount) throw this.corrupt(`more than ${this.run.blockCount} blocks`);
    }
    return at;
  }

  /** The whole run has been fed: checks that it held exactly its blocks and its CRC. */
  finish(): void {
    if (!this.headerSeen) throw this.corrupt('run ended inside its header');
    if (this.pending.length !== 0 || this.consumed !== this.run.length || this.blocks !== this.run.blockCount) {
      throw this.corrupt(`run ended after ${this.blocks} blocks with ${this.pending.length} bytes of a partial record`);
    }
    if (this.run.crc32c !== null && (this.crc >>> 0) !== (this.run.crc32c >>> 0)) {
      throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH,
        `${this.where}: run of partition ${this.run.partition} has CRC32C ${(this.crc >>> 0).toString(16)}, the index says ${(this.run.crc32c >>> 0).toString(16)}`);
    }
  }
}
