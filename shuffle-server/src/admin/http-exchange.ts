// One admin HTTP request and its response over uWebSockets.js: the abort
// contract (onAborted attached at once; nothing written after an abort), corked
// writes, the bounded body read, and JSON answers.
import type * as Uws from 'uWebSockets.js';
import { ErrorCode, PegasusError, toPegasusError } from '../errors.js';
import { statusOf } from './error-status.js';

export class HttpExchange {
  private aborted = false;
  private answered = false;

  constructor(private readonly res: Uws.HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  /** Whether a response may still be written. */
  get open(): boolean {
    return !this.aborted && !this.answered;
  }

  /**
   * Reads the whole body, at most `maxBytes` (MESSAGE_TOO_LARGE past that, also
   * when Content-Length says so up front). Must be called in the request
   * handler's synchronous part. Rejects with CONNECTION_CLOSED if aborted.
   */
  readBody(contentLength: string, maxBytes: number): Promise<Buffer> {
    const declared = contentLength === '' ? 0 : Number(contentLength);
    if (!Number.isSafeInteger(declared) || declared < 0) {
      return Promise.reject(new PegasusError(ErrorCode.INVALID_ARGUMENT, `Content-Length ${JSON.stringify(contentLength.slice(0, 32))} is not a byte count`));
    }
    if (declared > maxBytes) {
      return Promise.reject(new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `request body of ${declared} bytes exceeds ${maxBytes}`));
    }
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let bytes = 0;
      let done = false;
      this.res.onAborted(() => {
        this.aborted = true;
        if (!done) {
          done = true;
          reject(new PegasusError(ErrorCode.CONNECTION_CLOSED, 'request aborted while its body was read'));
        }
      });
      this.res.onData((chunk, isLast) => {
        if (done) return;
        bytes += chunk.byteLength;
        if (bytes > maxBytes) {
          done = true;
          reject(new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `request body exceeds ${maxBytes} bytes`));
          return;
        }
        // uWS neuters the chunk when this callback returns: copy it.
        parts.push(Buffer.from(new Uint8Array(chunk)));
        if (isLast) {
          done = true;
          resolve(Buffer.concat(parts, bytes));
        }
      });
    });
  }

  json(status: string, body: unknown, closeConnection = false): void {
    if (!this.open) return;
    this.answered = true;
    const text = JSON.stringify(body);
    this.res.cork(() => {
      this.res.writeStatus(status).writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store').end(text, closeConnection);
    });
  }

  /** Answers an error with its code's status. A too-large body closes the connection (the rest is not read). */
  fail(err: unknown, status?: string): void {
    const e = toPegasusError(err);
    this.json(status ?? statusOf(e.code), { code: e.code, message: e.message }, e.wireCode === ErrorCode.MESSAGE_TOO_LARGE);
  }
}
