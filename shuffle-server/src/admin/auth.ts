// The admin token check: `Authorization: Bearer <adminToken>` on every /api/v1/
// call when the config key adminToken is set. Runs before any handler, so a
// refused call changes nothing.
import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer[ \t]+(.+?)[ \t]*$/i;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Whether the Authorization header value carries `token`. With no token
 * configured ('') everything passes. Constant-time: both sides are hashed to
 * equal-length digests first, so neither the content nor the length of the
 * configured token leaks through timing.
 */
export function authorized(authorizationHeader: string, token: string): boolean {
  if (token === '') return true;
  const m = BEARER.exec(authorizationHeader);
  const given = m === null ? '' : m[1]!;
  // Compare even when the header is missing, so both paths cost the same.
  const same = timingSafeEqual(digest(given), digest(token));
  return m !== null && same;
}
