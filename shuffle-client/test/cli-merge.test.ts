// shufflectl's merging of several servers' answers, read as Received<> shapes of
// schemas/ts/admin-api.ts: a field a server of another build lacks counts as
// absent, and a row without its ids, which cannot be named, is left out.
import test from 'ava';

import type { AppsResponse, Received, ShufflesResponse } from '../../schemas/ts/admin-api.js';
import type { ServerResult } from '../src/cli/fan-out.js';
import { mergeApps, mergeShuffles } from '../src/cli/merge.js';

const ok = <T>(server: string, value: T): ServerResult<T> => ({ server, ok: true, value });

test('apps of several servers merge by id; missing fields count as absent; rows without an id are left out', (t) => {
  const results: Array<ServerResult<Received<AppsResponse>>> = [
    ok('a:1', { apps: [{ appId: 'x', shuffles: 2, diskBytes: 10, idleMs: 50, lastSeenMs: 100 }, { shuffles: 9 }] }),
    ok('b:1', { apps: [{ appId: 'x', diskBytes: 5, idleMs: 20 }] }),
    ok('c:1', {}),
    { server: 'd:1', ok: false, error: { code: 'TIMEOUT', message: 'late' } },
  ];
  t.deepEqual(mergeApps(results), [{ appId: 'x', servers: ['a:1', 'b:1'], shuffles: 2, diskBytes: 15, lastSeenMs: 100, idleMs: 20 }]);
});

test('shuffles merge by (app, id): bytes summed, committed maps the largest of any server, id-less rows left out', (t) => {
  const results: Array<ServerResult<Received<ShufflesResponse>>> = [
    ok('a:1', { shuffles: [{ appId: 'x', shuffleId: 1, numMaps: 4, committedMaps: 3, diskBytes: 10 }, { appId: 'x', diskBytes: 99 }] }),
    ok('b:1', { shuffles: [{ appId: 'x', shuffleId: 1, numMaps: 4, committedMaps: 2, diskBytes: 7, pushedBytes: 1 }] }),
  ];
  const [m, ...rest] = mergeShuffles(results);
  t.deepEqual(rest, []);
  t.like(m, { appId: 'x', shuffleId: 1, servers: ['a:1', 'b:1'], numMaps: 4, committedMaps: 3, diskBytes: 17, pushedBytes: 1, bufferedBytes: 0 });
});
