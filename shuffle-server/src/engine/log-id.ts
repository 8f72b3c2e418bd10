// A log's identity: which tenant it belongs to, which owner inside the tenant,
// and its id there (a u32). Tenants map their own ids onto these (tenants.ts).
import assert from 'node:assert/strict';

import { checkAppId } from '../../../schemas/ts/ids.js';
import type { TenantName } from './tenants.js';

export interface LogId {
  readonly tenant: TenantName;
  /** An id checked by checkAppId (it becomes a directory name and a catalog key part). */
  readonly owner: string;
  /** A u32. */
  readonly id: number;
}

const U32_MAX = 0xffff_ffff;

/** Checks a log id's parts (they become paths and keys). */
export function checkLogId(log: LogId): LogId {
  checkAppId(log.owner);
  if (!Number.isInteger(log.id) || log.id < 0 || log.id > U32_MAX) assert.fail(`log id ${log.id} not a u32`);
  return log;
}

/** `tenant/owner/id`, for messages and map keys. */
export function logName(log: LogId): string {
  return `${log.tenant}/${log.owner}/${log.id}`;
}
