// /api/v1/apps: list, describe and remove applications.
import type { AdminContext, AdminRequest } from './context.js';
import { describeApp, listApps as appList, removeApp } from './shuffle-views.js';

export function listApps(ctx: AdminContext): unknown {
  return { apps: appList(ctx.service) };
}

export function getApp(ctx: AdminContext, req: AdminRequest): unknown {
  return describeApp(ctx.service, req.params['appId']!);
}

export async function deleteApp(ctx: AdminContext, req: AdminRequest): Promise<unknown> {
  const removed = await removeApp(ctx.service, req.params['appId']!);
  ctx.log.info('app removed by admin request', removed);
  return { removed };
}
