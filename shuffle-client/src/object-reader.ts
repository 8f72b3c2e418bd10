// ObjectReader: positioned reads of one closed object (FRAMING.md "Objects").
// open() stats the path once and pins the object it found: every later read
// names its id, so a file replaced or deleted meanwhile is NOT_FOUND, never
// another file's bytes. Reads stream over the connection with the reader's
// credit (read-stream.ts checks every chunk's CRC32C and that the bytes
// follow each other from the requested offset).
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import { PathKind, type PathInfo } from '../../schemas/ts/messages.js';
import { checkInt } from './argument-checks.js';
import type { Connection } from './connection.js';
import { READ_CREDIT_BYTES_DEFAULT, READ_CREDIT_BYTES_MAX, READ_CREDIT_BYTES_MIN, READ_IDLE_TIMEOUT_MS_DEFAULT } from './limits.js';
import { statPath } from './namespace.js';
import { ReadStream } from './read-stream.js';

export interface ObjectReaderOptions {
  /** Bytes the server may send ahead of the consumer (default READ_CREDIT_BYTES_DEFAULT). */
  creditBytes?: number;
  /** Fail a read with TIMEOUT after this long without data (default READ_IDLE_TIMEOUT_MS_DEFAULT). */
  idleTimeoutMs?: number;
}

export class ObjectReader {
  private constructor(
    private readonly conn: Connection,
    readonly path: string,
    /** The object's status when it was opened. */
    readonly info: PathInfo,
    private readonly creditBytes: number,
    private readonly idleTimeoutMs: number,
  ) {}

  /** Opens the file at `path`: NOT_FOUND when nothing is there, IS_A_DIRECTORY for a directory. */
  static async open(conn: Connection, path: string, options: ObjectReaderOptions = {}): Promise<ObjectReader> {
    const creditBytes = checkInt(options.creditBytes ?? READ_CREDIT_BYTES_DEFAULT, READ_CREDIT_BYTES_MIN, READ_CREDIT_BYTES_MAX, 'creditBytes');
    const idleTimeoutMs = checkInt(options.idleTimeoutMs ?? READ_IDLE_TIMEOUT_MS_DEFAULT, 1, 24 * 3600 * 1000, 'idleTimeoutMs');
    const info = await statPath(conn, path);
    if (info.kind !== PathKind.FILE) throw new PegasusError(ErrorCode.IS_A_DIRECTORY, `${path} is a directory`);
    return new ObjectReader(conn, path, info, creditBytes, idleTimeoutMs);
  }

  get length(): number {
    return this.info.length;
  }

  /** The bytes [offset, offset + length), cut at the end of the object, as they arrive. */
  async *stream(offset = 0, length = Number.MAX_SAFE_INTEGER): AsyncGenerator<Buffer> {
    checkInt(offset, 0, Number.MAX_SAFE_INTEGER, 'offset');
    checkInt(length, 0, Number.MAX_SAFE_INTEGER, 'length');
    const start = Math.min(offset, this.info.length);
    const n = Math.min(length, this.info.length - start);
    if (n === 0) return;
    const stream = new ReadStream(this.conn, { type: 'OpenObject', path: this.path, offset: start, length: n, id: this.info.id },
      { creditBytes: this.creditBytes, idleTimeoutMs: this.idleTimeoutMs });
    let got = 0;
    for await (const block of stream) {
      got += block.data.length;
      yield block.data;
    }
    if (got !== n) throw new PegasusError(ErrorCode.CORRUPT_DATA, `read of ${this.path} [${start},${start + n}) ended after ${got} bytes`);
  }

  /** Reads bytes [offset, offset + length) (cut at the end of the object) into one buffer. */
  async read(offset: number, length: number): Promise<Buffer> {
    const start = Math.min(offset, this.info.length);
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.info.length - start)));
    let at = 0;
    for await (const chunk of this.stream(offset, length)) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
