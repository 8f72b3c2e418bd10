// The owner and log directories of a tenant on a tier, for the orphan sweep
// (orphans.ts) and for removing an owner's files.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ioError, isNotFound } from '../errors.js';
import type { LogId } from './log-id.js';
import { segmentReadHandles } from './read-handles.js';
import { isOwnerDirName, logDir, ownerDir, parseLogDirName, tenantRoot } from './segment-names.js';
import type { TenantName } from './tenants.js';

export interface OwnerDir {
  tenant: TenantName;
  owner: string;
  dir: string;
}

/** The log directories of one owner directory (none when it vanished meanwhile). */
export async function listLogDirsOf(owner: OwnerDir): Promise<Array<{ log: LogId; dir: string }>> {
  let names;
  try {
    names = await fsp.readdir(owner.dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw ioError(err, `list owner directory ${owner.dir}`);
  }
  const out: Array<{ log: LogId; dir: string }> = [];
  for (const d of names) {
    const id = d.isDirectory() ? parseLogDirName(d.name) : null;
    if (id !== null) out.push({ log: { tenant: owner.tenant, owner: owner.owner, id }, dir: join(owner.dir, d.name) });
  }
  return out;
}

/** Every owner directory of a tenant on a tier (an owner may have no log left). */
export async function listOwnerDirs(tierPath: string, tenant: TenantName): Promise<OwnerDir[]> {
  const root = tenantRoot(tierPath, tenant);
  let names;
  try {
    names = await fsp.readdir(root, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw ioError(err, `list ${root}`);
  }
  return names
    .filter((d) => d.isDirectory() && isOwnerDirName(d.name))
    .map((d) => ({ tenant, owner: d.name, dir: join(root, d.name) }));
}

/** Removes an owner's directory with every log in it (after its SegmentLogs are closed). */
export async function removeOwnerDir(tierPath: string, tenant: TenantName, owner: string): Promise<void> {
  const dir = ownerDir(tierPath, tenant, owner);
  segmentReadHandles.forgetUnder(dir);
  try {
    await fsp.rm(dir, { recursive: true, force: true });
  } catch (err) {
    throw ioError(err, `remove owner directory ${dir}`);
  }
}

/** Removes one log's directory with its segment files (a log no SegmentLog holds open). */
export async function removeLogDir(tierPath: string, log: LogId): Promise<void> {
  const dir = logDir(tierPath, log);
  segmentReadHandles.forgetUnder(dir);
  try {
    await fsp.rm(dir, { recursive: true, force: true });
  } catch (err) {
    throw ioError(err, `remove log directory ${dir}`);
  }
}
