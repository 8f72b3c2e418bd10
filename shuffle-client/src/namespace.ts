// The namespace calls of the objects tenant (FRAMING.md "Objects"): stat,
// list, mkdirs, rename, delete. Every path is absolute (`/a/b`). Errors carry
// the server's codes: NOT_FOUND, ALREADY_EXISTS, NOT_A_DIRECTORY,
// IS_A_DIRECTORY, DIRECTORY_NOT_EMPTY, INVALID_PATH.
import type { PathInfo } from '../../schemas/ts/messages.js';
import type { Connection } from './connection.js';

export type { PathInfo };

/** What `path` names: a file (its length, id, tier) or a directory. */
export async function statPath(conn: Connection, path: string): Promise<PathInfo> {
  const { type: _type, ...info } = (await conn.request({ type: 'StatPath', path })).message;
  return info;
}

/** Whether `path` names anything. */
export async function pathExists(conn: Connection, path: string): Promise<boolean> {
  try {
    await statPath(conn, path);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'NOT_FOUND') return false;
    throw err;
  }
}

/** The entries of directory `path` in name order, a page (at most `pageSize`, 0: the server's bound) per request. */
export async function* listDir(conn: Connection, path: string, pageSize = 0): AsyncGenerator<PathInfo> {
  let after = '';
  for (;;) {
    const page = (await conn.request({ type: 'ListDir', path, startAfter: after, limit: pageSize })).message;
    yield* page.entries;
    if (!page.more || page.entries.length === 0) return;
    after = page.entries[page.entries.length - 1]!.name;
  }
}

/** Creates directory `path` and its missing parents (an existing directory is fine). */
export async function makeDirs(conn: Connection, path: string): Promise<void> {
  await conn.request({ type: 'MakeDirs', path });
}

/** Moves a file or a directory (everything under it) to `to`, atomically; `to` must not exist. */
export async function renamePath(conn: Connection, from: string, to: string): Promise<void> {
  await conn.request({ type: 'RenamePath', from, to });
}

/** Deletes a file, or a directory (with `recursive`, everything under it); whether anything was there. */
export async function deletePath(conn: Connection, path: string, options: { recursive?: boolean } = {}): Promise<boolean> {
  return (await conn.request({ type: 'DeletePath', path, recursive: options.recursive ?? false })).message.deleted;
}
