// The answers of a real server have exactly the shapes declared in
// schemas/ts/admin-api.ts (which shufflectl reads them as): every declared field,
// of its JSON type, and no undeclared one. Each shape below is checked against
// its declared type by the compiler (ShapeOf<T>: a missing, extra or mistyped
// field does not compile), and against the server's JSON here.
import test from 'ava';

import type {
  AdminError, AppDetail, AppsResponse, CleanupResult, DecommissionStatus, ErrorsResponse, RemoveAppResponse, RemoveShuffleResponse,
  ServerStatus, ShufflesResponse, VerifyResult,
} from '../../../schemas/ts/admin-api.js';
import { RawClient } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer } from '../helpers/server-process.js';
import { api, register, writeCommitted } from './admin-helpers.js';

/** The JSON type of every field of T, recursively; an array is the shape of its elements in a one-element tuple. */
type ShapeOf<T> =
  [T] extends [string] ? 'string'
    : [T] extends [string | null] ? 'string|null'
      : [T] extends [number] ? 'number'
        : [T] extends [boolean] ? 'boolean'
          : T extends ReadonlyArray<infer E> ? [ShapeOf<E>]
            : { [K in keyof T]-?: ShapeOf<T[K]> };

type AnyShape = string | [AnyShape] | { [k: string]: AnyShape };

/** Where `value` departs from `shape`: missing or extra fields, wrong JSON types. */
function departures(value: unknown, shape: AnyShape, path = '$'): string[] {
  if (typeof shape === 'string') {
    const kinds = shape.split('|');
    const kind = value === null ? 'null' : typeof value;
    return kinds.includes(kind) ? [] : [`${path}: ${kind}, declared ${shape}`];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    return value.flatMap((v, i) => departures(v, shape[0], `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
  const out: string[] = [];
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(shape)) {
    if (!(k in o)) out.push(`${path}.${k}: missing`);
    else out.push(...departures(o[k], shape[k]!, `${path}.${k}`));
  }
  for (const k of Object.keys(o)) if (!(k in shape)) out.push(`${path}.${k}: not declared in admin-api.ts`);
  return out;
}

const decommission: ShapeOf<DecommissionStatus> = { state: 'string', shuffles: 'number' };
const appInfo = { appId: 'string', lastSeenMs: 'number', idleMs: 'number', shuffles: 'number', diskBytes: 'number' } as const;
const shapes = {
  status: {
    version: 'string', pid: 'number', startedAtMs: 'number', uptimeMs: 'number', host: 'string', port: 'number',
    memory: { budgetBytes: 'number', usedBytes: 'number', waitingBytes: 'number' },
    diskUsedBytes: 'number',
    tiers: [{ tier: 'string', kind: 'string', path: 'string', capacityBytes: 'number', usedBytes: 'number', freeBytes: 'number', pmemWrites: 'boolean' }],
    apps: 'number', shuffles: 'number', connections: 'number',
    native: { loaded: 'boolean', reason: 'string|null', crc32c: 'string' },
    ucx: { enabled: 'boolean', port: 'number', reason: 'string|null', endpoints: 'number', registeredBytes: 'number' },
    decommission,
  } satisfies ShapeOf<ServerStatus>,
  apps: { apps: [appInfo] } satisfies ShapeOf<AppsResponse>,
  app: { ...appInfo, shuffleIds: ['number'] } satisfies ShapeOf<AppDetail>,
  shuffles: {
    shuffles: [{
      appId: 'string', shuffleId: 'number', numMaps: 'number', numPartitions: 'number', committedMaps: 'number', diskBytes: 'number',
      bufferedBytes: 'number', pushedBytes: 'number', createdAtMs: 'number', lastActivityMs: 'number',
    }],
  } satisfies ShapeOf<ShufflesResponse>,
  removeApp: { removed: { appId: 'string', shuffles: 'number', diskBytes: 'number' } } satisfies ShapeOf<RemoveAppResponse>,
  removeShuffle: { removed: { appId: 'string', shuffleId: 'number', diskBytes: 'number' } } satisfies ShapeOf<RemoveShuffleResponse>,
  cleanup: { dryRun: 'boolean', expiredApps: ['string'], orphans: [{ path: 'string', bytes: 'number' }], freedBytes: 'number' } satisfies ShapeOf<CleanupResult>,
  verify: {
    shuffles: 'number', runs: 'number', blocks: 'number', bytes: 'number',
    errors: [{ appId: 'string', shuffleId: 'number', code: 'string', message: 'string' }],
  } satisfies ShapeOf<VerifyResult>,
  errors: { errors: [{ atMs: 'number', code: 'string', message: 'string' }] } satisfies ShapeOf<ErrorsResponse>,
  error: { code: 'string', message: 'string' } satisfies ShapeOf<AdminError>,
  decommission,
};

test('every admin answer has exactly the shape admin-api.ts declares', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-a', 1, 2, 4)).type, 'Ack');
    t.is((await register(c, 'app-b', 7, 1, 2)).type, 'Ack');
    await writeCommitted(c, 'app-a', 1, 0, 2, 4);
    await writeCommitted(c, 'app-b', 7, 0, 1, 2);
    // One error answered on the data plane, so /errors lists an entry.
    t.is((await c.request({ type: 'CommitMap', appId: 'app-a', shuffleId: 99, mapId: 0, attempt: 1, batchCount: 1 })).message.type, 'Error');

    const check = async (method: string, path: string, shape: AnyShape, body?: unknown, status = 200): Promise<unknown> => {
      const a = await api(s.address, method, path, body === undefined ? {} : { body });
      t.is(a.status, status, `${method} ${path}: ${a.text}`);
      t.deepEqual(departures(a.body, shape), [], `${method} ${path}: ${a.text}`);
      return a.body;
    };

    const status = await check('GET', '/api/v1/status', shapes.status) as ServerStatus;
    t.true(status.tiers.length > 0, 'a tier to check');
    t.true(((await check('GET', '/api/v1/apps', shapes.apps)) as AppsResponse).apps.length > 0);
    await check('GET', '/api/v1/apps/app-a', shapes.app);
    t.true(((await check('GET', '/api/v1/shuffles', shapes.shuffles)) as ShufflesResponse).shuffles.length > 0);
    await check('GET', '/api/v1/shuffles?app=app-b', shapes.shuffles);
    await check('POST', '/api/v1/verify', shapes.verify, {});
    await check('POST', '/api/v1/cleanup', shapes.cleanup, { orphans: true, dryRun: true });
    t.true(((await check('GET', '/api/v1/errors', shapes.errors)) as ErrorsResponse).errors.length > 0);
    await check('POST', '/api/v1/decommission', shapes.decommission, {});
    await check('GET', '/api/v1/decommission', shapes.decommission);
    await check('DELETE', '/api/v1/decommission', shapes.decommission);
    await check('DELETE', '/api/v1/apps/app-a/shuffles/1', shapes.removeShuffle);
    await check('DELETE', '/api/v1/apps/app-b', shapes.removeApp);
    await check('GET', '/api/v1/apps/app-b', shapes.error, undefined, 404);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('the shape check itself notices a missing, an extra and a mistyped field', (t) => {
  t.deepEqual(departures({ state: 'active', shuffles: 1 }, shapes.decommission), []);
  t.deepEqual(departures({ state: 'active' }, shapes.decommission), ['$.shuffles: missing']);
  t.deepEqual(departures({ state: 'active', shuffles: 1, extra: 0 }, shapes.decommission), ['$.extra: not declared in admin-api.ts']);
  t.deepEqual(departures({ state: 3, shuffles: 1 }, shapes.decommission), ['$.state: number, declared string']);
  t.deepEqual(departures({ errors: [{ atMs: 1, code: 'X' }] }, shapes.errors), ['$.errors[0].message: missing']);
});
