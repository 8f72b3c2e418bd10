// POST /api/v1/verify {app?, shuffle?}: re-read and check stored blocks.
import { ErrorCode, PegasusError } from '../errors.js';
import type { AdminContext, AdminRequest } from './context.js';
import { onlyFields, optionalString, optionalU32 } from './json-body.js';
import { verify } from './shuffle-views.js';

export async function postVerify(ctx: AdminContext, req: AdminRequest): Promise<unknown> {
  onlyFields(req.body, ['app', 'shuffle']);
  const app = optionalString(req.body, 'app');
  const shuffle = optionalU32(req.body, 'shuffle');
  if (shuffle !== undefined && app === undefined) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, '"shuffle" needs "app"');
  return verify(ctx.service, app, shuffle, ctx.cfg.readAheadBytes, ctx.log);
}
