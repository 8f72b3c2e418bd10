// Checks of caller-supplied numbers, shared by the writer, the reader and the
// control helpers, so every bad argument fails the same way: INVALID_ARGUMENT
// with the value and the allowed range.
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';

/** Returns `value` if it is an integer in min..max, else throws INVALID_ARGUMENT. */
export function checkInt(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `${what} ${value} must be an integer in ${min}..${max}`);
  }
  return value;
}

/** Throws INVALID_ARGUMENT unless 0 <= start <= end <= max (a half-open range). */
export function checkRange(start: number, end: number, max: number, what: string): void {
  const ok = Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= max;
  if (!ok) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `${what} range [${start}, ${end}) must satisfy 0 <= start <= end <= ${max}`);
}

/** Largest value of a u32 wire field. */
export const U32_MAX = 0xffff_ffff;
