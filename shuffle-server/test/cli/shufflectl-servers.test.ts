// shufflectl against several real servers at once: answers merged (one row
// per application and shuffle spread over servers), an unreachable server
// (exit 1, CONNECTION_CLOSED, the others still printed), removal from the
// servers that have an application, and the admin token (UNAUTHORIZED).
import test from 'ava';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { closedAddress, ctl, parsed, pushShuffle } from './ctl.js';

let one: ServerProcess;
let two: ServerProcess;
let guarded: ServerProcess;
const TOKEN = 's3cret-token';

test.before(async () => {
  [one, two, guarded] = await Promise.all([startServer(), startServer(), startServer({ args: ['--admin-token', TOKEN] })]);
  await Promise.all([
    pushShuffle(one.address, { appId: 'shared', shuffleId: 1 }),
    pushShuffle(two.address, { appId: 'shared', shuffleId: 1 }),
    pushShuffle(two.address, { appId: 'shared', shuffleId: 2, numMaps: 1 }),
    pushShuffle(one.address, { appId: 'only-one', shuffleId: 5 }),
    pushShuffle(guarded.address, { appId: 'guarded-app', shuffleId: 1 }),
  ]);
});

test.after.always(async () => {
  for (const s of [one, two, guarded]) {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test.serial('apps of two servers are merged: an app on both is one row, counts summed, servers listed', async (t) => {
  const both = `${one.address},${two.address}`;
  const r = await ctl(['--server', both, '--json', 'apps']);
  t.is(r.code, 0, r.stderr);
  const doc = parsed<{ apps: Array<{ appId: string; shuffles: number; diskBytes: number; servers: string[] }> }>(r);
  const shared = doc.apps.find((a) => a.appId === 'shared')!;
  t.is(shared.shuffles, 3);
  t.deepEqual([...shared.servers].sort(), [one.address, two.address].sort());
  t.deepEqual(doc.apps.find((a) => a.appId === 'only-one')!.servers, [one.address]);
  const table = await ctl(['--server', both, 'apps']);
  t.regex(table.stdout, new RegExp(`^shared\\s+3\\s.*${one.address.replace(/\./g, '\\.')}`, 'm'));
});

test.serial('shuffles of two servers are merged: bytes summed, committed maps not double counted', async (t) => {
  const r = await ctl(['--server', `${one.address},${two.address}`, '--json', 'shuffles', '--app', 'shared']);
  t.is(r.code, 0, r.stderr);
  const doc = parsed<{ shuffles: Array<{ shuffleId: number; committedMaps: number; numMaps: number; diskBytes: number; servers: string[] }>; servers: Array<{ shuffles: Array<{ diskBytes: number }> }> }>(r);
  t.deepEqual(doc.shuffles.map((s) => [s.shuffleId, s.servers.length, s.committedMaps, s.numMaps]), [[1, 2, 2, 2], [2, 1, 1, 1]]);
  const perServer = doc.servers.map((s) => s.shuffles.find((x) => (x as { shuffleId?: number }).shuffleId === 1)!.diskBytes);
  t.is(doc.shuffles[0]!.diskBytes, perServer[0]! + perServer[1]!);
});

test.serial('shuffles and verify of an app on one of two servers succeed; the other server\'s UNKNOWN_APP is no failure', async (t) => {
  const both = `${one.address},${two.address}`;
  const list = await ctl(['--server', both, '--json', 'shuffles', '--app', 'only-one']);
  t.is(list.code, 0, list.stdout + list.stderr);
  t.deepEqual(parsed<{ shuffles: Array<{ shuffleId: number; servers: string[] }> }>(list).shuffles.map((s) => [s.shuffleId, s.servers]), [[5, [one.address]]]);
  const verified = await ctl(['--server', both, 'verify', '--app', 'only-one']);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  t.regex(verified.stdout, /verified 1 shuffles/);
  const nowhere = await ctl(['--server', both, '--json', 'shuffles', '--app', 'nowhere']);
  t.is(nowhere.code, 1);
  t.is(parsed<{ error: { code: string } }>(nowhere).error.code, 'UNKNOWN_APP');
});

test.serial('an unreachable server makes the command exit 1 with CONNECTION_CLOSED; the other\'s rows are still shown', async (t) => {
  const down = await closedAddress();
  const table = await ctl(['--server', `${down},${one.address}`, 'apps']);
  t.is(table.code, 1);
  t.regex(table.stderr, new RegExp(`^shufflectl: CONNECTION_CLOSED: ${down}`, 'm'));
  t.regex(table.stdout, /^only-one\s/m);
  const json = await ctl(['--server', `${down},${one.address}`, '--json', 'status']);
  t.is(json.code, 1);
  const doc = parsed<{ ok: boolean; servers: Array<{ server: string; error?: { code: string }; status?: { apps: number } }> }>(json);
  t.false(doc.ok);
  t.is(doc.servers.find((s) => s.server === down)!.error!.code, 'CONNECTION_CLOSED');
  t.is(doc.servers.find((s) => s.server === one.address)!.status!.apps, 2);
  for (const command of [['shuffles'], ['metrics'], ['verify'], ['decommission', '--show']]) {
    const r = await ctl(['--server', `${down},${one.address}`, '--json', ...command]);
    t.is(r.code, 1, command.join(' '));
    const d = parsed<{ servers: Array<{ server: string; error?: { code: string } }> }>(r);
    t.is(d.servers.find((s) => s.server === down)!.error!.code, 'CONNECTION_CLOSED', command.join(' '));
  }
});

test.serial('cleanup of an app on some servers only succeeds and reports each server', async (t) => {
  const r = await ctl(['--server', `${one.address},${two.address}`, '--json', 'cleanup', '--app', 'only-one']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const doc = parsed<{ ok: boolean; servers: Array<{ server: string; removed?: unknown; error?: { code: string } }> }>(r);
  t.true(doc.ok);
  t.truthy(doc.servers.find((s) => s.server === one.address)!.removed);
  t.is(doc.servers.find((s) => s.server === two.address)!.error!.code, 'UNKNOWN_APP');
  const again = await ctl(['--server', `${one.address},${two.address}`, 'cleanup', '--app', 'only-one']);
  t.is(again.code, 1);
  t.regex(again.stderr, /^shufflectl: UNKNOWN_APP: /m);
});

test.serial('a wrong or missing admin token is UNAUTHORIZED (exit 1); the right one from --token or the environment works', async (t) => {
  const wrong = await ctl(['--server', guarded.address, '--token', 'nope', 'apps']);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^shufflectl: UNAUTHORIZED: /m);
  const missing = await ctl(['--server', guarded.address, '--json', 'status']);
  t.is(missing.code, 1);
  t.is(parsed<{ error: { code: string } }>(missing).error.code, 'UNAUTHORIZED');
  const right = await ctl(['--server', guarded.address, '--token', TOKEN, '--json', 'apps']);
  t.is(right.code, 0, right.stderr);
  t.deepEqual(parsed<{ apps: Array<{ appId: string }> }>(right).apps.map((a) => a.appId), ['guarded-app']);
  const fromEnv = await ctl(['--server', guarded.address, 'status'], { PEGASUS_ADMIN_TOKEN: TOKEN });
  t.is(fromEnv.code, 0, fromEnv.stderr);
  const cleanup = await ctl(['--server', guarded.address, '--token', 'nope', 'cleanup', '--app', 'guarded-app']);
  t.is(cleanup.code, 1);
  t.regex(cleanup.stderr, /UNAUTHORIZED/);
  t.is((await ctl(['--server', guarded.address, '--token', TOKEN, '--json', 'apps'])).code, 0, 'nothing was removed');
});
