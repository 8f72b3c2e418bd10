// Incremental parser of one run (layout: run-format.ts, RUN_FORMAT.md). The run
// arrives in pieces of any size: chunks of a segment file read by the server, or
// ranges fetched raw out of the server's segment memory by a UCX reader. Each
// feed() returns the block records the piece completes.
//
// Checked, as CORRUPT_DATA naming `where`, the run and the byte of the run:
// - the run header (magic, version, size, CRC) and that its partition, block
//   count and length are the expected run's;
// - every block record header (magic, version, size, codec, lengths, CRC), that
//   its partition is the run's, its map id within [mapMin, mapMax] and its record
//   inside the run;
// - that the blocks fill the run exactly: no byte fed past its length, none
//   missing at finish(), exactly blockCount blocks;
// and, when the expected run has one, the CRC32C of all its bytes at finish()
// (CHECKSUM_MISMATCH). Block data CRCs are the caller's: it decides what a bad
// block means (a reader fails, the server's verify counts and goes on).
//
// Memory: complete records are returned as views of the piece, never copied. At
// most one record split across pieces is copied, into a buffer of its own size
// (at most BLOCK_HEADER_BYTES + BLOCK_BYTES_MAX), which the returned block views.
import { crc32c } from '../../native/ts/crc32c.js';
import { ErrorCode, PegasusError } from './errors.js';
import type { BlockHeader } from './messages.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, decodeBlockHeader, decodeRunHeader, type RunBlock } from './run-format.js';

export type { RunBlock };

/**
 * What the reader knows of a run before reading it: from the server's index row,
 * or from a ReadPlan's RunLocation (which has these fields and more).
 */
export interface ExpectedRun {
  partition: number;
  /** Bytes of the run, its header included. */
  length: number;
  blockCount: number;
  /** Smallest and largest map id of its blocks (inclusive). */
  mapMin: number;
  mapMax: number;
  /** CRC32C of the run's bytes, or null when there is none to check. */
  crc32c: number | null;
}

export class RunParser {
  /** Bytes fed so far. */
  private fed = 0;
  /** Bytes of the run in complete units: the run header and whole block records. */
  private consumed = 0;
  private blocks = 0;
  private headerSeen = false;
  private crc = 0;
  /** The unit split across pieces (run header, block header, or block record), filled up to `partialFill`. */
  private partial: Buffer | null = null;
  private partialFill = 0;
  /** The decoded header of `partial` once `partial` is a whole block record being filled. */
  private partialHeader: BlockHeader | null = null;
  /** parseWhole() matched the run's CRC32C, which covers every header. */
  private headerCrcChecked = false;
  /** parseWhole() found a mismatch its caller does not check (the blocks' own CRC32Cs will). */
  private runCrcIgnored = false;

  /**
   * @param run the run as its index row or ReadPlan describes it
   * @param where names the run's source in error messages (a segment file and
   *     offset, a server and read); the parser adds the run and the byte
   */
  constructor(private readonly run: ExpectedRun, private readonly where: string) {
    const ok = Number.isSafeInteger(run.length) && Number.isInteger(run.blockCount) && run.blockCount >= 1 &&
      run.length >= RUN_HEADER_BYTES + run.blockCount * BLOCK_HEADER_BYTES && run.mapMin <= run.mapMax;
    if (!ok) {
      throw new PegasusError(ErrorCode.CORRUPT_DATA, `${where}: impossible run description: partition ${run.partition}, ` +
        `${run.length} bytes, ${run.blockCount} blocks, maps ${run.mapMin}..${run.mapMax}`);
    }
  }

  /** Bytes of the run in complete units so far: where the next unit (or the one that failed) starts. */
  get consumedBytes(): number {
    return this.consumed;
  }

  /** Bytes of the run not fed yet. */
  get remainingBytes(): number {
    return this.run.length - this.fed;
  }

  private corrupt(what: string, cause?: unknown): PegasusError {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return new PegasusError(ErrorCode.CORRUPT_DATA,
      `${this.where}: run of partition ${this.run.partition} (${this.run.length} bytes, ${this.run.blockCount} blocks) at byte ${this.consumed}: ${what}${why}`,
      cause === undefined ? undefined : { cause });
  }

  /**
   * Takes the next piece of the run; returns the block records it completes, in
   * order. Their `data` views `piece` (or the parser's copy of a record split
   * across pieces): valid as long as the caller keeps `piece` unchanged.
   */
  feed(piece: Buffer): RunBlock[] {
    if (piece.length > this.remainingBytes) {
      throw this.corrupt(`a piece of ${piece.length} bytes after ${this.fed} goes ${piece.length - this.remainingBytes} bytes past the run's end`);
    }
    this.fed += piece.length;
    if (this.run.crc32c !== null) this.crc = crc32c(piece, this.crc);
    const out: RunBlock[] = [];
    let rest = piece;
    while (this.partial !== null && rest.length > 0) {
      const take = Math.min(this.partial.length - this.partialFill, rest.length);
      rest.copy(this.partial, this.partialFill, 0, take);
      this.partialFill += take;
      rest = rest.subarray(take);
      if (this.partialFill === this.partial.length) this.completePartial(out);
    }
    if (this.partial === null) {
      const used = this.parse(rest, out);
      if (used < rest.length) this.startPartial(rest.subarray(used));
    }
    return out;
  }

  /** `partial` is full: takes the unit it holds, or grows it from a block header to the whole record. */
  private completePartial(out: RunBlock[]): void {
    const unit = this.partial!;
    if (!this.headerSeen) {
      this.takeRunHeader(unit, 0);
      this.clearPartial();
    } else if (this.partialHeader === null) {
      const h = this.blockHeaderAt(unit, 0);
      if (h.storedLength === 0) {
        this.clearPartial();
        this.takeBlock(h, unit.subarray(BLOCK_HEADER_BYTES), out);
      } else {
        const record = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + h.storedLength);
        unit.copy(record, 0, 0, BLOCK_HEADER_BYTES);
        this.partial = record;
        this.partialHeader = h;
      }
    } else {
      const h = this.partialHeader;
      this.clearPartial();
      this.takeBlock(h, unit.subarray(BLOCK_HEADER_BYTES), out);
    }
  }

  /** Copies the start of a unit that the piece does not complete. */
  private startPartial(left: Buffer): void {
    let size: number;
    if (!this.headerSeen) {
      size = RUN_HEADER_BYTES;
    } else if (left.length < BLOCK_HEADER_BYTES) {
      size = BLOCK_HEADER_BYTES;
    } else {
      // parse() stopped at a record whose header it already checked.
      this.partialHeader = this.blockHeaderAt(left, 0);
      size = BLOCK_HEADER_BYTES + this.partialHeader.storedLength;
    }
    this.partial = Buffer.allocUnsafe(size);
    left.copy(this.partial, 0);
    this.partialFill = left.length;
  }

  private clearPartial(): void {
    this.partial = null;
    this.partialFill = 0;
    this.partialHeader = null;
  }

  private takeRunHeader(buf: Buffer, at: number): void {
    let h;
    try {
      h = decodeRunHeader(buf, at);
    } catch (err) {
      throw this.corrupt('bad run header', err);
    }
    if (h.partition !== this.run.partition || h.blockCount !== this.run.blockCount || h.runBytes !== this.run.length) {
      throw this.corrupt(`run header says partition ${h.partition}, ${h.blockCount} blocks, ${h.runBytes} bytes`);
    }
    this.headerSeen = true;
    this.consumed = RUN_HEADER_BYTES;
  }

  private takeBlock(h: BlockHeader, data: Buffer, out: RunBlock[]): void {
    out.push({ header: h, data });
    this.consumed += BLOCK_HEADER_BYTES + h.storedLength;
    this.blocks++;
  }

  /** Decodes and checks the header of the next block record, at `buf[at..]`. */
  private blockHeaderAt(buf: Buffer, at: number): BlockHeader {
    let h: BlockHeader;
    try {
      h = decodeBlockHeader(buf, at, this.headerCrcChecked);
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

  /**
   * Parses a whole run held in one buffer: feed() and finish() in one call,
   * paying per run what can be paid per run. When the expected run has a
   * CRC32C and the bytes match it, every header is already covered, so the
   * per-header CRC32Cs (one native call per block) are skipped; every other
   * check runs. When they do not match, the run is parsed header by header as
   * feed() does, so a damaged header still fails as CORRUPT_DATA naming it;
   * then the mismatch fails with CHECKSUM_MISMATCH only if `checkRunCrc`
   * (verify), else the blocks are returned and their own data CRC32Cs decide
   * (a reader's check, as with feed() on a run described without a CRC32C).
   */
  parseWhole(run: Buffer, checkRunCrc: boolean): RunBlock[] {
    if (this.fed !== 0) throw new Error('RunParser.parseWhole on a parser that was fed');
    if (run.length !== this.run.length) {
      throw this.corrupt(`a whole run of ${run.length} bytes was handed over`);
    }
    const crc = this.run.crc32c === null ? null : crc32c(run) >>> 0;
    if (crc === null || crc !== (this.run.crc32c! >>> 0)) {
      this.runCrcIgnored = !checkRunCrc;
      const out = this.feed(run);
      this.finish();
      return out;
    }
    this.fed = run.length;
    this.crc = crc;
    this.headerCrcChecked = true;
    const out: RunBlock[] = [];
    const used = this.parse(run, out);
    if (used !== run.length) throw this.corrupt(`the run's last block record is cut at byte ${used}`);
    this.finish();
    return out;
  }

  /** Parses the run header (once) and every complete block record of `buf`; returns the bytes used. */
  private parse(buf: Buffer, out: RunBlock[]): number {
    let at = 0;
    if (!this.headerSeen) {
      if (buf.length < RUN_HEADER_BYTES) return 0;
      this.takeRunHeader(buf, 0);
      at = RUN_HEADER_BYTES;
    }
    while (at < buf.length) {
      if (this.blocks === this.run.blockCount) {
        throw this.corrupt(`${this.run.length - this.consumed} bytes after the last of ${this.run.blockCount} blocks`);
      }
      if (buf.length - at < BLOCK_HEADER_BYTES) break;
      const h = this.blockHeaderAt(buf, at);
      const recordBytes = BLOCK_HEADER_BYTES + h.storedLength;
      if (buf.length - at < recordBytes) break;
      this.takeBlock(h, buf.subarray(at + BLOCK_HEADER_BYTES, at + recordBytes), out);
      at += recordBytes;
    }
    return at;
  }

  /** The whole run has been fed: checks that it held exactly its blocks, then its CRC32C. */
  finish(): void {
    if (this.fed < this.run.length) {
      throw this.corrupt(`run ended after ${this.fed} of its bytes, ${this.blocks} blocks` +
        (this.partial === null ? '' : `, inside ${this.headerSeen ? `block ${this.blocks}` : 'its header'}`));
    }
    if (this.partial !== null || this.consumed !== this.run.length || this.blocks !== this.run.blockCount) {
      throw this.corrupt(`run ended after ${this.blocks} blocks with ${this.partialFill} bytes of a partial record`);
    }
    if (this.run.crc32c !== null && !this.runCrcIgnored && (this.crc >>> 0) !== (this.run.crc32c >>> 0)) {
      throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH,
        `${this.where}: run of partition ${this.run.partition} has CRC32C ${(this.crc >>> 0).toString(16)}, the index says ${(this.run.crc32c >>> 0).toString(16)}`);
    }
  }
}
