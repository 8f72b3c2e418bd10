// shufflectl against a real server: status, metrics, cleanup, usage errors,
// an unreachable server; exit codes 0, 1, 2 and --json on each.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shuffle-client', 'src', 'cli', 'main.js');
let server: ServerProcess;

function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

test.before(async () => {
  server = await startServer();
});

test.after.always(async () => {
  await stopServer(server);
  await removeDir(server.dataDir);
});

test.serial('status reports health and numbers, as a table and as JSON', async (t) => {
  const table = await ctl('--server', server.address, 'status');
  t.is(table.code, 0);
  t.regex(table.stdout, /healthy/);
  const json = await ctl('--server', server.address, '--json', 'status');
  t.is(json.code, 0);
  const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
  t.is(rows[0]!['healthy'], true);
  t.is(rows[0]!['status'], 'ok');
});

test.serial('metrics prints the Prometheus text, or parsed JSON', async (t) => {
  const text = await ctl('--server', server.address, 'metrics');
  t.is(text.code, 0);
  t.regex(text.stdout, /# TYPE pegasus_push_bytes_total counter/);
  const json = await ctl('--server', server.address, 'metrics', '--json');
  const parsed = JSON.parse(json.stdout) as Array<{ metrics: Record<string, number> }>;
  t.is(typeof parsed[0]!.metrics['pegasus_memory_budget_bytes'], 'number');
});

test.serial('cleanup removes a shuffle, then a whole application, with their files', async (t) => {
  const c = await RawClient.connect(server.address);
  for (const id of [1, 2]) await c.request({ type: 'RegisterShuffle', appId: 'app-ctl', shuffleId: id, numMaps: 1, numPartitions: 2 });
  c.close();
  const one = await ctl('--server', server.address, '--json', 'cleanup', '--app', 'app-ctl', '--shuffle', '1');
  t.is(one.code, 0, one.stderr);
  t.false(existsSync(join(server.dataDir, 'shuffles', 'app-ctl', '1')));
  t.true(existsSync(join(server.dataDir, 'shuffles', 'app-ctl', '2')));
  const all = await ctl('--server', server.address, 'cleanup', '--app', 'app-ctl');
  t.is(all.code, 0, all.stderr);
  t.false(existsSync(join(server.dataDir, 'shuffles', 'app-ctl')));
});

test.serial('bad ids and unreachable servers fail with code 1; usage errors with code 2', async (t) => {
  const bad = await ctl('--server', server.address, '--json', 'cleanup', '--app', '../etc');
  t.is(bad.code, 1);
  t.is((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'INVALID_ID');
  const down = await ctl('--server', '127.0.0.1:1', 'status');
  t.is(down.code, 1);
  t.is((await ctl('--server', server.address, 'frobnicate')).code, 2);
  t.is((await ctl('--server', server.address, 'cleanup')).code, 2);
  t.is((await ctl('--bogus')).code, 2);
  const help = await ctl('--help');
  t.is(help.code, 0);
  t.regex(help.stdout, /exit codes/);
});
