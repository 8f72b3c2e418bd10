// Buffered sequential reader over one run of a segment file: the read side of a
// run, used by SegmentLog.readRun(). One buffer of chunk size per read.
import assert from 'node:assert/strict';
import type { promises as fsp } from 'node:fs';
import { ErrorCode, PegasusError, ioError } from '../errors.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES } from './segment-format.js';

type FileHandle = fsp.FileHandle;

/** CORRUPT_DATA naming the segment file and offset. */
export function corruptAt(path: string, offset: number, err: unknown): PegasusError {
  const detail = err instanceof Error ? err.message : String(err);
  return new PegasusError(ErrorCode.CORRUPT_DATA, `segment ${path} offset ${offset}: ${detail}`, { cause: err });
}

/**
 * Buffered sequential reader over one run's byte range [start, runEnd) of a file.
 * Holds one buffer of chunk size; a block larger than that gets a buffer of its own
 * size and is read whole.
 */
export class RunCursor {
  private buf: Buffer;
  private start = 0;
  private end = 0;
  private filePos: number;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    runOffset: number,
    private readonly runEnd: number,
    private readonly chunkBytes: number,
  ) {
    this.filePos = runOffset;
    this.buf = Buffer.allocUnsafe(Math.max(Math.min(chunkBytes, runEnd - runOffset), BLOCK_HEADER_BYTES, RUN_HEADER_BYTES));
  }

  /** File offset of the first unconsumed byte. */
  get position(): number {
    return this.filePos - (this.end - this.start);
  }

  get buffer(): Buffer {
    return this.buf;
  }

  get at(): number {
    return this.start;
  }

  consume(n: number): void {
    assert(n <= this.end - this.start, 'consume past buffered bytes');
    this.start += n;
  }

  /** Ensures n unconsumed bytes are buffered at buffer[at..]; views handed out earlier may be overwritten. */
  async need(n: number, what: string): Promise<void> {
    const avail = this.end - this.start;
    if (avail >= n) return;
    const position = this.position;
    if (position + n > this.runEnd) {
      throw corruptAt(this.path, position, new Error(`${what} of ${n} bytes runs past the run end ${this.runEnd}`));
    }
    if (this.buf.length - this.start < n) {
      if (this.buf.length >= n) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const bigger = Buffer.allocUnsafe(n);
        this.buf.copy(bigger, 0, this.start, this.end);
        this.buf = bigger;
      }
      this.start = 0;
      this.end = avail;
    }
    while (this.end - this.start < n) {
      const want = Math.min(Math.max(this.chunkBytes, n - (this.end - this.start)), this.buf.length - this.end, this.runEnd - this.filePos);
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(this.buf, this.end, want, this.filePos));
      } catch (err) {
        throw ioError(err, `read segment ${this.path} at ${this.filePos}`);
      }
      if (bytesRead === 0) {
        throw corruptAt(this.path, this.filePos, new Error(`file ends inside ${what} (run ends at ${this.runEnd})`));
      }
      this.end += bytesRead;
      this.filePos += bytesRead;
    }
  }
}
