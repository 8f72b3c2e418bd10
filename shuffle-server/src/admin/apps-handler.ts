// /api/v1/apps: list, describe and remove applications.
import type { AdminContext, AdminRequest } from './context.js';

export function listApps(ctx: AdminContext): unknown {
  return { apps: ctx.service.listApps() };
}

export function getApp(ctx: AdminContext, req: AdminRequest): unknown {
  return ctx.service.describeApp(req.params['appId']!);
}

export async function deleteApp(ctx: AdminContext, req: AdminRequest): Promise<unknown> {
  const removed = await ctx.service.removeApp(req.params['appId']!);
  ctx.log.info('app removed by admin request', removed);
  return { removed };
}
