// Which server owns a path of the objects namespace when there are several:
// every path under one top-level directory lives on one server, chosen by a
// stable hash of that directory's name, so a rename inside it stays on one
// server (and atomic). The rule, shared by every client (the Hadoop file system
// in integration/hadoop-fs too): the servers in the order configured, index =
// CRC32C (Castagnoli) of the top-level component's UTF-8 bytes, as an unsigned
// 32-bit integer, modulo the number of servers. The root itself lives on every
// server (each holds its own top-level directories).
import { crc32c } from '../../native/ts/crc32c.js';
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';

/** The first component of an absolute path (`/a/b` -> `a`), or null for `/`. */
export function topLevelOf(path: string): string | null {
  if (!path.startsWith('/')) throw new PegasusError(ErrorCode.INVALID_PATH, `path ${JSON.stringify(path)} is not absolute`);
  const rest = path.slice(1);
  if (rest === '') return null;
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}

/** The index of the server owning `path` among `count` servers; null for the root (every server). */
export function ownerIndex(path: string, count: number): number | null {
  const top = topLevelOf(path);
  if (top === null) return null;
  return (crc32c(Buffer.from(top, 'utf8')) >>> 0) % count;
}
