// ObjectWriter: writes one object (a file of the server's path namespace,
// FRAMING.md "Objects"). Bytes are gathered into chunks of `chunkBytes` and
// sent as AppendObject requests, several in flight (the connection's push
// window bounds them, and so the memory: at most `appendsInFlight` chunks
// plus the one being filled). Nothing is visible until close() resolves;
// then every reader on every connection sees the whole object. abort(), a
// failed append, or a connection that closes first leaves nothing visible.
import { crc32c } from '../../native/ts/crc32c.js';
import { ErrorCode, PegasusError, toPegasusError } from '../../schemas/ts/errors.js';
import { APPEND_BYTES_MAX } from '../../schemas/ts/limits.js';
import type { PathInfo } from '../../schemas/ts/messages.js';
import { checkInt } from './argument-checks.js';
import type { Connection } from './connection.js';
import { OBJECT_APPENDS_IN_FLIGHT_DEFAULT, OBJECT_CHUNK_BYTES_DEFAULT } from './limits.js';

export interface ObjectWriterOptions {
  /** Replace a file already at the path when the close makes this one visible (default false: ALREADY_EXISTS). */
  overwrite?: boolean;
  /** The file expires this many ms after its close: invisible at once, then deleted with its bytes (default 0: never). */
  ttlMs?: number;
  /** A cache file: the server may delete it, least recently used first, when it runs short of space (default false: durable). */
  cache?: boolean;
  /** Bytes per AppendObject (default OBJECT_CHUNK_BYTES_DEFAULT, at most APPEND_BYTES_MAX). */
  chunkBytes?: number;
  /** AppendObject requests awaiting their Ack before write() waits (default OBJECT_APPENDS_IN_FLIGHT_DEFAULT). */
  appendsInFlight?: number;
}

type State = 'open' | 'closing' | 'closed' | 'failed';

export class ObjectWriter {
  private state: State = 'open';
  private failure: PegasusError | undefined;
  private chunk: Buffer;
  private filled = 0;
  private sent = 0;
  private readonly inFlight: Array<Promise<unknown>> = [];

  private constructor(
    private readonly conn: Connection,
    readonly path: string,
    private readonly handle: number,
    private readonly chunkBytes: number,
    private readonly appendsMax: number,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** Opens a writer of a new object at `path` (absolute). Fails at once with ALREADY_EXISTS, IS_A_DIRECTORY, NOT_A_DIRECTORY, INVALID_PATH. */
  static async create(conn: Connection, path: string, options: ObjectWriterOptions = {}): Promise<ObjectWriter> {
    const chunkBytes = checkInt(options.chunkBytes ?? OBJECT_CHUNK_BYTES_DEFAULT, 1, APPEND_BYTES_MAX, 'chunkBytes');
    const appendsMax = checkInt(options.appendsInFlight ?? OBJECT_APPENDS_IN_FLIGHT_DEFAULT, 1, 1024, 'appendsInFlight');
    const ttlMs = checkInt(options.ttlMs ?? 0, 0, Number.MAX_SAFE_INTEGER, 'ttlMs');
    const answer = await conn.request({ type: 'CreateObject', path, overwrite: options.overwrite ?? false, ttlMs, cache: options.cache ?? false });
    return new ObjectWriter(conn, path, answer.message.handle, chunkBytes, appendsMax);
  }

  /** Bytes written so far (sent or buffered). */
  get length(): number {
    return this.sent + this.filled;
  }

  /** Takes a copy of `bytes`; waits only when `appendsInFlight` chunks are unacknowledged. */
  async write(bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(this.chunkBytes - this.filled, bytes.length - at);
      this.chunk.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.chunkBytes) await this.sendChunk();
    }
  }

  /** Sends what is buffered, waits for every append, and makes the object visible. Resolves with its status. */
  async close(): Promise<PathInfo> {
    this.checkOpen();
    this.state = 'closing';
    try {
      if (this.filled > 0) await this.sendChunk();
      await Promise.all(this.inFlight);
      this.checkFailure();
      const answer = await this.conn.request({ type: 'CloseObject', handle: this.handle, length: this.sent });
      this.state = 'closed';
      const { type: _type, ...info } = answer.message;
      return info;
    } catch (err) {
      this.state = 'failed';
      this.failure ??= toPegasusError(err);
      throw this.failure;
    }
  }

  /** Drops the object: nothing becomes visible. Idempotent; a no-op after close(). */
  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'failed';
    this.failure ??= new PegasusError(ErrorCode.INVALID_ARGUMENT, `writer of ${this.path} was aborted`);
    await Promise.allSettled(this.inFlight);
    if (!this.conn.closed) await this.conn.request({ type: 'AbortObject', handle: this.handle }).catch(() => undefined);
  }

  private async sendChunk(): Promise<void> {
    const data = this.chunk.subarray(0, this.filled);
    const offset = this.sent;
    this.sent += this.filled;
    // The chunk is handed over as is; a new one is filled meanwhile.
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
    this.filled = 0;
    const p = this.conn.request({ type: 'AppendObject', handle: this.handle, offset, length: data.length, crc32c: crc32c(data) }, [data])
      .catch((err: unknown) => {
        if (this.failure === undefined) this.failure = toPegasusError(err);
        this.state = 'failed';
      });
    this.inFlight.push(p);
    void p.finally(() => {
      const i = this.inFlight.indexOf(p);
      if (i >= 0) this.inFlight.splice(i, 1);
    });
    while (this.inFlight.length >= this.appendsMax) await Promise.race(this.inFlight);
    this.checkFailure();
  }

  private checkOpen(): void {
    this.checkFailure();
    if (this.state !== 'open') throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `writer of ${this.path} is ${this.state}`);
  }

  private checkFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
