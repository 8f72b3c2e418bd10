// /api/v1/shuffles and /api/v1/apps/{appId}/shuffles/{shuffleId}: list and remove shuffles.
import type { AdminContext, AdminRequest } from './context.js';
import { parseShuffleIdParam } from './json-body.js';
import { listShuffles as shuffleList, removeShuffle } from './shuffle-views.js';

export function listShuffles(ctx: AdminContext, req: AdminRequest): unknown {
  const app = req.query['app'];
  return { shuffles: shuffleList(ctx.service, app === undefined || app === '' ? undefined : app) };
}

export async function deleteShuffle(ctx: AdminContext, req: AdminRequest): Promise<unknown> {
  const removed = await removeShuffle(ctx.service, req.params['appId']!, parseShuffleIdParam(req.params['shuffleId']!));
  ctx.log.info('shuffle removed by admin request', removed);
  return { removed };
}
