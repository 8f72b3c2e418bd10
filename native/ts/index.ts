// The hand-written facade over the generated binding (binding.js / binding.d.ts,
// made by `napi build`). It loads the native module once and, when the module is
// missing or fails to load, says why instead of throwing: the server and the
// client then run over WebSocket with portable code, and log and report the
// reason once (`nativeStatus()`, shown in /healthz).
//
// PEGASUS_NATIVE=off skips loading (used by tests of the fallback path).
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type * as Binding from '../binding.cjs';

export type NativeBinding = typeof Binding;

export interface NativeStatus {
  loaded: boolean;
  /** Why the module is not loaded; null when it is. */
  reason: string | null;
  /** The file the binding was loaded from (or would have been). */
  path: string;
}

/** native/ in the source tree, from this file at dist/native/ts/ or native/ts/. */
function nativeDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${join('dist', 'native', 'ts')}`) ? '../../../native' : '..';
  return resolve(here, up);
}

let loaded: NativeBinding | null = null;
let status: NativeStatus | null = null;

function load(): NativeStatus {
  const path = join(nativeDir(), 'binding.cjs');
  if (process.env['PEGASUS_NATIVE'] === 'off') {
    return { loaded: false, reason: 'disabled by PEGASUS_NATIVE=off', path };
  }
  // UCX's memory-event hooks (it patches mmap/munmap to keep its registration
  // cache right) crashed about 1 % of Node processes at start, inside V8; the
  // variable is read when libucp loads, so it is set before the binding is
  // required. Our regions are registered explicitly, so nothing depends on the hooks.
  process.env['UCX_MEM_EVENTS'] ??= 'no';
  try {
    const require = createRequire(import.meta.url);
    loaded = require(path) as NativeBinding;
    return { loaded: true, reason: null, path };
  } catch (err) {
    loaded = null;
    const why = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return { loaded: false, reason: `native module not loaded (${why}); run scripts/setup.sh to build it`, path };
  }
}

/** Whether the native module is loaded, and if not, why. Loads it on first call. */
export function nativeStatus(): NativeStatus {
  if (status === null) status = load();
  return status;
}

/** The native binding, or null when it is not loaded. */
export function nativeBinding(): NativeBinding | null {
  nativeStatus();
  return loaded;
}

/** Error codes of native errors: the binding's messages start with "CODE: ". */
const CODE_PREFIX = /^([A-Z][A-Z_]+): /;

/**
 * The wire error code of an error thrown by the native module (message
 * "CODE: text", errors.rs), or null for any other error.
 */
export function nativeErrorCode(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const m = CODE_PREFIX.exec(err.message);
  return m === null ? null : m[1]!;
}
