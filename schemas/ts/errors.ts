// The one error family of Pegasus. Every error that crosses a process boundary
// carries a code from the schema's ErrorCode enum, so the server, the TypeScript
// client, the JVM plugins and the native module all branch on the same codes.
import { ErrorCode } from '../generated/ts/pegasus/wire/error-code.js';

export { ErrorCode };

/** The stable string form of a code, e.g. 'CHECKSUM_MISMATCH'. */
export type ErrorCodeName = keyof typeof ErrorCode;

export function errorCodeName(code: ErrorCode): ErrorCodeName {
  const name = ErrorCode[code] as ErrorCodeName | undefined;
  return name ?? 'INTERNAL';
}

export function isErrorCode(value: number): value is ErrorCode {
  return typeof ErrorCode[value] === 'string';
}

/**
 * An error with a stable code. `code` is the string name (what callers branch on,
 * like undici's `UND_ERR_*`); `wireCode` is the number sent on the wire.
 */
export class PegasusError extends Error {
  readonly code: ErrorCodeName;
  readonly wireCode: ErrorCode;

  constructor(wireCode: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PegasusError';
    this.wireCode = wireCode;
    this.code = errorCodeName(wireCode);
  }

  static is(err: unknown, code?: ErrorCode): err is PegasusError {
    return err instanceof PegasusError && (code === undefined || err.wireCode === code);
  }
}

/** Wraps any thrown value as a PegasusError, keeping the original as `cause`. */
export function toPegasusError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): PegasusError {
  if (err instanceof PegasusError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PegasusError(fallback, message, { cause: err });
}
