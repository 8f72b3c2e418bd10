// /api/v1/quotas: quotas of the file namespace's top-level directories, with
// what each uses (GET), and setting or removing one (POST).
import type { QuotaBody, QuotasResponse } from '../../../schemas/ts/admin-api.js';
import { ErrorCode, PegasusError } from '../errors.js';
import type { AdminContext, AdminRequest } from './context.js';
import { onlyFields, optionalString } from './json-body.js';

export function getQuotas(ctx: AdminContext): QuotasResponse {
  return {
    quotas: ctx.objects.quotas().map((q) => ({
      dir: q.top, bytesMax: q.bytesMax, objectsMax: q.objectsMax, bytesUsed: q.bytes, objectsUsed: q.objects, writingBytes: q.writingBytes,
    })),
  };
}

function count(body: Record<string, unknown>, key: string): number {
  const v = body[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `field ${key} must be an integer of at least 0 (0: no limit), got ${JSON.stringify(v)?.slice(0, 64)}`);
  }
  return v;
}

export async function postQuota(ctx: AdminContext, req: AdminRequest): Promise<QuotasResponse> {
  const known: Array<keyof QuotaBody> = ['dir', 'bytesMax', 'objectsMax'];
  onlyFields(req.body, known);
  const dir = optionalString(req.body, 'dir');
  if (dir === undefined) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'field dir (a top-level directory name) is required');
  await ctx.objects.setQuota(dir, count(req.body, 'bytesMax'), count(req.body, 'objectsMax'));
  return getQuotas(ctx);
}
