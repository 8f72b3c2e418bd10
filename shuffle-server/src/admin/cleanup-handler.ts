// POST /api/v1/cleanup {expired?, orphans?, dryRun?}: expired applications and orphaned files.
import { ErrorCode, PegasusError } from '../errors.js';
import type { AdminContext, AdminRequest } from './context.js';
import { onlyFields, optionalBool } from './json-body.js';
import { cleanup } from './shuffle-views.js';

export async function postCleanup(ctx: AdminContext, req: AdminRequest): Promise<unknown> {
  onlyFields(req.body, ['expired', 'orphans', 'dryRun']);
  const expired = optionalBool(req.body, 'expired') ?? false;
  const orphans = optionalBool(req.body, 'orphans') ?? false;
  const dryRun = optionalBool(req.body, 'dryRun') ?? false;
  if (!expired && !orphans) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'cleanup needs "expired": true or "orphans": true (or both)');
  return cleanup(ctx.service, { expired, orphans, dryRun }, ctx.log);
}
