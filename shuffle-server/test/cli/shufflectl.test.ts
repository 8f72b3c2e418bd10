// shufflectl against one real server holding real shuffle data: every command
// as a table and as JSON, cleanup by id and by sweep, metrics --watch, usage
// errors (exit 2) and --help per command (exit 0).
import test from 'ava';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { ctl, parsed, pushShuffle } from './ctl.js';

let server: ServerProcess;
const on = (...args: string[]): string[] => ['--server', server.address, ...args];

test.before(async () => {
  server = await startServer();
  await pushShuffle(server.address, { appId: 'app-a', shuffleId: 1 });
  await pushShuffle(server.address, { appId: 'app-a', shuffleId: 2, numMaps: 1 });
  await pushShuffle(server.address, { appId: 'app-b', shuffleId: 7 });
});

test.after.always(async () => {
  await stopServer(server);
  await removeDir(server.dataDir);
});

test.serial('status shows version, memory, tiers, apps and shuffles; --json has the server\'s answer', async (t) => {
  const table = await ctl(on('status'));
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /SERVER\s+VERSION\s+UPTIME/);
  t.regex(table.stdout, /MiB/);
  t.regex(table.stdout, /TIER\s+KIND/);
  const json = await ctl(on('--json', 'status'));
  t.is(json.code, 0, json.stderr);
  const doc = parsed<{ ok: boolean; servers: Array<{ server: string; status: { apps: number; shuffles: number; memory: { budgetBytes: number } } }> }>(json);
  t.true(doc.ok);
  t.is(doc.servers[0]!.server, server.address);
  t.is(doc.servers[0]!.status.apps, 2);
  t.is(doc.servers[0]!.status.shuffles, 3);
  t.true(doc.servers[0]!.status.memory.budgetBytes > 0);
});

test.serial('apps lists each application with its shuffles and disk bytes', async (t) => {
  const table = await ctl(on('apps'));
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^APP\s+SHUFFLES\s+DISK/m);
  t.regex(table.stdout, /^app-a\s+2\s/m);
  t.regex(table.stdout, /^app-b\s+1\s/m);
  const doc = parsed<{ apps: Array<{ appId: string; shuffles: number; diskBytes: number; servers: string[] }> }>(await ctl(on('apps', '--json')));
  t.deepEqual(doc.apps.map((a) => [a.appId, a.shuffles, a.servers]), [['app-a', 2, [server.address]], ['app-b', 1, [server.address]]]);
  t.true(doc.apps[0]!.diskBytes > 0);
});

test.serial('shuffles lists bytes, partitions and committed maps, filtered by --app', async (t) => {
  const table = await ctl(on('shuffles', '--app', 'app-a'));
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^app-a\s+1\s+2\/2\s+4\s/m);
  t.regex(table.stdout, /^app-a\s+2\s+1\/1\s+4\s/m);
  t.notRegex(table.stdout, /app-b/);
  const doc = parsed<{ shuffles: Array<{ appId: string; shuffleId: number; committedMaps: number; numPartitions: number; diskBytes: number }> }>(
    await ctl(on('--json', 'shuffles')));
  t.deepEqual(doc.shuffles.map((s) => `${s.appId}/${s.shuffleId}:${s.committedMaps}`), ['app-a/1:2', 'app-a/2:1', 'app-b/7:2']);
  t.true(doc.shuffles.every((s) => s.diskBytes > 0 && s.numPartitions === 4));
});

test.serial('metrics prints the Prometheus text, or parsed JSON', async (t) => {
  const text = await ctl(on('metrics'));
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /# TYPE pegasus_push_bytes_total counter/);
  const doc = parsed<{ servers: Array<{ metrics: Record<string, number> }> }>(await ctl(on('metrics', '--json')));
  t.is(typeof doc.servers[0]!.metrics['pegasus_memory_budget_bytes'], 'number');
  t.true(doc.servers[0]!.metrics['pegasus_push_bytes_total']! > 0);
});

test.serial('metrics --watch --count 2 draws two rounds, the second with throughput rates', async (t) => {
  const table = await ctl(on('metrics', '--watch', '--count', '2', '--interval', '0.3'));
  t.is(table.code, 0, table.stderr);
  t.is(table.stdout.match(/^SERVER\s+IN\s+OUT/gm)?.length, 2, table.stdout);
  t.regex(table.stdout, /round 2/);
  t.regex(table.stdout, /B\/s/);
  const json = await ctl(on('--json', 'metrics', '--watch', '--count', '2', '--interval', '0.2'));
  t.is(json.code, 0, json.stderr);
  const rounds = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { round: number; servers: Array<{ inBytesPerSecond?: number; shuffles: number }> });
  t.deepEqual(rounds.map((r) => r.round), [1, 2]);
  t.is(rounds[1]!.servers[0]!.inBytesPerSecond, 0);
  t.is(rounds[1]!.servers[0]!.shuffles, 3);
});

test.serial('cleanup removes a shuffle, then a whole application, with their files', async (t) => {
  const one = await ctl(on('--json', 'cleanup', '--app', 'app-a', '--shuffle', '1'));
  t.is(one.code, 0, one.stderr);
  const doc = parsed<{ ok: boolean; servers: Array<{ removed: { diskBytes: number } }> }>(one);
  t.true(doc.ok);
  t.true(doc.servers[0]!.removed.diskBytes > 0);
  t.false(existsSync(join(server.dataDir, 'shuffles', 'app-a', '1')));
  t.true(existsSync(join(server.dataDir, 'shuffles', 'app-a', '2')));
  const all = await ctl(on('cleanup', '--app', 'app-a'));
  t.is(all.code, 0, all.stderr);
  t.regex(all.stdout, /removed/);
  t.false(existsSync(join(server.dataDir, 'shuffles', 'app-a')));
});

test.serial('cleanup of an application or shuffle that does not exist fails with UNKNOWN_APP / UNKNOWN_SHUFFLE', async (t) => {
  const app = await ctl(on('cleanup', '--app', 'no-such-app'));
  t.is(app.code, 1);
  t.regex(app.stderr, /^shufflectl: UNKNOWN_APP: /m);
  const json = await ctl(on('--json', 'cleanup', '--app', 'no-such-app'));
  t.is(json.code, 1);
  t.is(parsed<{ error: { code: string } }>(json).error.code, 'UNKNOWN_APP');
  const shuffle = await ctl(on('--json', 'cleanup', '--app', 'app-b', '--shuffle', '99'));
  t.is(shuffle.code, 1);
  t.is(parsed<{ error: { code: string } }>(shuffle).error.code, 'UNKNOWN_SHUFFLE');
});

test.serial('cleanup --expired --orphans --dry-run reports and removes nothing; a path-like id is INVALID_ID', async (t) => {
  const dry = await ctl(on('--json', 'cleanup', '--expired', '--orphans', '--dry-run'));
  t.is(dry.code, 0, dry.stderr);
  const doc = parsed<{ ok: boolean; dryRun: boolean; servers: Array<{ expiredApps: string[]; orphans: unknown[] }> }>(dry);
  t.true(doc.dryRun);
  t.deepEqual(doc.servers[0]!.expiredApps, []);
  t.true(existsSync(join(server.dataDir, 'shuffles', 'app-b', '7')));
  const table = await ctl(on('cleanup', '--orphans'));
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /ORPHANS\s+FREED/);
  const bad = await ctl(on('--json', 'cleanup', '--app', '../etc'));
  t.is(bad.code, 1);
  t.is(parsed<{ error: { code: string } }>(bad).error.code, 'INVALID_ID');
});

test('usage errors exit 2: unknown command or option, missing value, bad number, bad combination', async (t) => {
  const cases: string[][] = [
    ['frobnicate'], ['--bogus', 'status'], [], ['status', '--app', 'x'], ['cleanup'], ['cleanup', '--shuffle', '1'],
    ['cleanup', '--app'], ['cleanup', '--app', 'a', '--shuffle', 'one'], ['cleanup', '--app', 'a', '--shuffle', '-1'],
    ['cleanup', '--dry-run'], ['cleanup', '--app', 'a', '--expired'], ['metrics', '--count', '2'],
    ['metrics', '--watch', '--count', '0'], ['metrics', '--watch', '--interval', 'soon'], ['--timeout', '0', 'status'],
    ['--server', 'nohost', 'status'], ['--server', 'h:99999', 'status'], ['decommission', '--cancel', '--wait'],
    ['verify', '--shuffle', '3'], ['status', 'extra'], ['--json=yes', 'status'],
  ];
  for (const args of cases) {
    const r = await ctl(['--server', '127.0.0.1:9', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /^shufflectl: .*\n\nusage: /, args.join(' '));
  }
});

test('--help prints the tool\'s usage, and each command\'s, with exit 0', async (t) => {
  const help = await ctl(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /exit codes/);
  for (const c of ['status', 'apps', 'shuffles', 'cleanup', 'metrics', 'decommission', 'verify', 'ls', 'stat', 'du', 'rm', 'put', 'get', 'quota']) {
    const r = await ctl([c, '--help']);
    t.is(r.code, 0, c);
    t.regex(r.stdout, new RegExp(`^usage: shufflectl \\[global options\\] ${c}`), c);
    const h = await ctl(['help', c]);
    t.is(h.code, 0, `help ${c}: exit ${h.code}, stderr: ${h.stderr}`);
    t.is(h.stdout, r.stdout, c);
  }
});

test('a server that accepts but never answers is TIMEOUT after --timeout (exit 1)', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => {
    sockets.push(socket.on('error', () => undefined));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const address = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  const started = Date.now();
  const r = await ctl(['--server', address, '--timeout', '0.5', '--json', 'status']);
  t.is(r.code, 1);
  t.is(parsed<{ error: { code: string } }>(r).error.code, 'TIMEOUT');
  t.true(Date.now() - started < 10_000);
});
