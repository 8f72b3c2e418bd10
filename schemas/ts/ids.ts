// Identifier rules shared by every client and the server. Application ids become
// directory names on the server, so anything path-like is refused here, before
// it can reach a file system call.
import { ErrorCode, PegasusError } from './errors.js';

/** Longest application id accepted (bytes of ASCII). */
export const APP_ID_CHARS_MAX = 128;
const APP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Throws INVALID_ID unless `appId` is a safe, non-path name. */
export function checkAppId(appId: string): string {
  if (appId.length === 0 || appId.length > APP_ID_CHARS_MAX) {
    throw new PegasusError(ErrorCode.INVALID_ID, `application id must be 1..${APP_ID_CHARS_MAX} chars, got ${appId.length}`);
  }
  if (!APP_ID_PATTERN.test(appId) || appId.includes('..')) {
    throw new PegasusError(
      ErrorCode.INVALID_ID,
      `application id ${JSON.stringify(appId.slice(0, 64))} may hold only letters, digits, '.', '_' and '-', must start with a letter or digit, and may not contain '..'`,
    );
  }
  return appId;
}
