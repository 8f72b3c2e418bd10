// Native errors as the shared PegasusError family: the binding's messages carry
// their wire code as a "CODE: " prefix (native/src/errors.rs).
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';

import { nativeErrorCode } from './index.js';

/** A native error as a PegasusError with its wire code (`fallback` when it has none). */
export function fromNativeError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): PegasusError {
  if (err instanceof PegasusError) return err;
  const name = nativeErrorCode(err);
  const code = name !== null && typeof ErrorCode[name as keyof typeof ErrorCode] === 'number'
    ? ErrorCode[name as keyof typeof ErrorCode]
    : fallback;
  const text = err instanceof Error ? err.message.replace(/^[A-Z][A-Z_]+: /, '') : String(err);
  return new PegasusError(code, text, { cause: err });
}
