// The one place that turns (tenant, owner, log, segment) into paths under a
// tier's directory, and back:
//   <tier>/<tenant dirName>/<owner>/<log id>/<segmentId, 20 digits>.seg
// (tenants.ts names each tenant's folder; release 0.1's layout is the first
// tenant's.) Segment ids are zero-padded to 20 digits (the width of
// u64) so `ls` lists them in the order they were written. Owner ids were
// validated at the protocol edge; they are checked again here because this is
// where they become paths.
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { checkAppId } from '../../../schemas/ts/ids.js';
import { checkLogId, type LogId } from './log-id.js';
import { tenantLayout, type TenantName } from './tenants.js';

export const SEGMENT_FILE_SUFFIX = '.seg';
/** Digits of a segment file name: u64 in decimal. */
export const SEGMENT_ID_DIGITS = 20;

const SEGMENT_FILE_PATTERN = /^([0-9]{20})\.seg$/;
const LOG_DIR_PATTERN = /^(0|[1-9][0-9]{0,9})$/;
const U32_MAX = 0xffff_ffff;

/** The tenant's folder on a tier. */
export function tenantRoot(tierPath: string, tenant: TenantName): string {
  return join(tierPath, tenantLayout(tenant).dirName);
}

export function ownerDir(tierPath: string, tenant: TenantName, owner: string): string {
  return join(tenantRoot(tierPath, tenant), checkAppId(owner));
}

export function logDir(tierPath: string, log: LogId): string {
  checkLogId(log);
  return join(ownerDir(tierPath, log.tenant, log.owner), String(log.id));
}

export function segmentFileName(segmentId: number): string {
  if (!Number.isSafeInteger(segmentId) || segmentId < 0) assert.fail(`segment id ${segmentId} not a safe u64`);
  return String(segmentId).padStart(SEGMENT_ID_DIGITS, '0') + SEGMENT_FILE_SUFFIX;
}

export function segmentPath(tierPath: string, log: LogId, segmentId: number): string {
  return join(logDir(tierPath, log), segmentFileName(segmentId));
}

/** The segment id named by a file name, or null when the name is not a segment file's. */
export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_FILE_PATTERN.exec(name);
  if (m === null) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : null;
}

/** The log id named by a log directory name (plain decimal u32), or null. */
export function parseLogDirName(name: string): number | null {
  const m = LOG_DIR_PATTERN.exec(name);
  if (m === null) return null;
  const id = Number(m[1]);
  return id <= U32_MAX ? id : null;
}

/** Whether a directory name under a tenant's folder is a valid owner id. */
export function isOwnerDirName(name: string): boolean {
  try {
    checkAppId(name);
    return true;
  } catch {
    return false;
  }
}
