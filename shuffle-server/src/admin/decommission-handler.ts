// /api/v1/decommission: start (POST), look (GET), cancel (DELETE).
import type { AdminContext, AdminRequest } from './context.js';
import { onlyFields } from './json-body.js';

export function getDecommission(ctx: AdminContext): unknown {
  return ctx.service.decommissionStatus();
}

export function postDecommission(ctx: AdminContext, req: AdminRequest): unknown {
  onlyFields(req.body, []);
  return ctx.service.startDecommission();
}

export function deleteDecommission(ctx: AdminContext): unknown {
  return ctx.service.stopDecommission();
}
