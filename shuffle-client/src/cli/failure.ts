// A failure as shufflectl reports it: the stable error code of
// schemas/pegasus.fbs (or a server's answer) and a message that names the
// server. Errors print as `shufflectl: CODE: message`.
import { PegasusError } from '../../../schemas/ts/errors.js';

export interface Failure {
  code: string;
  message: string;
}

/** Thrown for a command line shufflectl cannot act on: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Thrown with a code a server (or the transport to it) gave. */
export class CtlError extends Error {
  override readonly name = 'CtlError';
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function toFailure(err: unknown): Failure {
  if (err instanceof CtlError || err instanceof PegasusError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
