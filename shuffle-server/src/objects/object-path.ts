// Object paths: what a valid path is, in one place. A path is absolute
// (`/a/b/c`), its components separated by single slashes; `/` alone is the
// root. Refused with INVALID_PATH: a relative path, an empty component (`//`,
// a trailing slash), `.` or `..`, NUL or other control characters, a
// component over PATH_COMPONENT_BYTES_MAX UTF-8 bytes, a path over
// PATH_BYTES_MAX bytes or PATH_DEPTH_MAX components. Clients normalize (Hadoop's
// Path drops trailing slashes) before they send.
import { PATH_BYTES_MAX, PATH_COMPONENT_BYTES_MAX, PATH_DEPTH_MAX } from '../../../schemas/ts/limits.js';
import { ErrorCode, PegasusError } from '../errors.js';

function invalid(path: string, why: string): PegasusError {
  const shown = path.length > 200 ? `${path.slice(0, 200)}...` : path;
  return new PegasusError(ErrorCode.INVALID_PATH, `path ${JSON.stringify(shown)}: ${why}`);
}

// Control characters (C0, DEL, C1): never part of a name.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The components of a valid path (none for the root); throws INVALID_PATH otherwise. */
export function parsePath(path: string): string[] {
  if (!path.startsWith('/')) throw invalid(path, 'not absolute (must start with /)');
  if (Buffer.byteLength(path, 'utf8') > PATH_BYTES_MAX) throw invalid(path, `longer than ${PATH_BYTES_MAX} bytes`);
  if (path === '/') return [];
  const parts = path.slice(1).split('/');
  if (parts.length > PATH_DEPTH_MAX) throw invalid(path, `more than ${PATH_DEPTH_MAX} components`);
  for (const part of parts) {
    if (part === '') throw invalid(path, 'empty component (// or a trailing /)');
    if (part === '.' || part === '..') throw invalid(path, `component ${part} (paths are not resolved)`);
    if (CONTROL.test(part)) throw invalid(path, 'NUL or control character');
    if (Buffer.byteLength(part, 'utf8') > PATH_COMPONENT_BYTES_MAX) throw invalid(path, `component longer than ${PATH_COMPONENT_BYTES_MAX} bytes`);
  }
  return parts;
}

/** The path of components (`/` for none). */
export function joinPath(parts: readonly string[]): string {
  return `/${parts.join('/')}`;
}
