// GET /api/v1/errors: the most recent errors answered to clients, newest first.
import type { AdminContext } from './context.js';

export function getErrors(ctx: AdminContext): unknown {
  return { errors: ctx.metrics.recentErrors.list() };
}
