// The server's errors are the shared PegasusError family (schemas/ts/errors.ts);
// this module adds the mapping from Node's I/O errors to stable codes.
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';

export { ErrorCode, PegasusError };
export { errorCodeName, toPegasusError } from '../../schemas/ts/errors.js';

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Maps a file system error to DISK_FULL or STORAGE_IO, keeping it as `cause`. */
export function ioError(err: unknown, what: string): PegasusError {
  if (err instanceof PegasusError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new PegasusError(ErrorCode.DISK_FULL, `${what}: no space left (${detail})`, { cause: err });
  }
  return new PegasusError(ErrorCode.STORAGE_IO, `${what}: ${detail}`, { cause: err });
}
