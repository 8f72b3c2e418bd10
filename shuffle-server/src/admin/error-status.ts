// The HTTP status of each error code (ADMIN_API.md, Errors). The body is always
// {"code": "<ErrorCode name>", "message": "..."}.
import type { ErrorCodeName } from '../../../schemas/ts/errors.js';

const STATUS_BY_CODE: Partial<Record<ErrorCodeName, string>> = {
  INVALID_ARGUMENT: '400 Bad Request',
  INVALID_ID: '400 Bad Request',
  INVALID_PATH: '400 Bad Request',
  MALFORMED_FRAME: '400 Bad Request',
  UNAUTHORIZED: '401 Unauthorized',
  NOT_FOUND: '404 Not Found',
  UNKNOWN_APP: '404 Not Found',
  UNKNOWN_SHUFFLE: '404 Not Found',
  CONFLICT: '409 Conflict',
  DECOMMISSIONING: '409 Conflict',
  ALREADY_EXISTS: '409 Conflict',
  QUOTA_EXCEEDED: '409 Conflict',
  MESSAGE_TOO_LARGE: '413 Payload Too Large',
  SHUTTING_DOWN: '503 Service Unavailable',
};

/** A known path asked with a method it does not serve (its code is INVALID_ARGUMENT). */
export const METHOD_NOT_ALLOWED = '405 Method Not Allowed';

export function statusOf(code: ErrorCodeName): string {
  return STATUS_BY_CODE[code] ?? '500 Internal Server Error';
}
