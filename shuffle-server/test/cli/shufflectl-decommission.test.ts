// shufflectl decommission against a real server: started while a shuffle is
// being written (the writer goes on, new shuffles are refused), --wait
// returns once the shuffle is removed and the server is drained, --cancel
// returns it to active, and --wait gives up with TIMEOUT.
import test from 'ava';
import { Connection } from '../../../shuffle-client/src/connection.js';
import { registerShuffle } from '../../../shuffle-client/src/control.js';
import { ShuffleWriter } from '../../../shuffle-client/src/writer.js';
import { PegasusError } from '../../../schemas/ts/errors.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { ctl, parsed, sleep } from './ctl.js';

let server: ServerProcess;

test.before(async () => {
  server = await startServer();
});

test.after.always(async () => {
  await stopServer(server);
  await removeDir(server.dataDir);
});

test.serial('decommission during a running shuffle: it goes on, new ones are refused, --wait ends once it is removed', async (t) => {
  const conn = await Connection.connect(server.address);
  t.teardown(() => conn.close());
  await registerShuffle(conn, { appId: 'running', shuffleId: 1, numMaps: 1, numPartitions: 2 });
  const w = new ShuffleWriter({ connection: conn, appId: 'running', shuffleId: 1, mapId: 0, attempt: 0, numPartitions: 2 });
  w.write(0, Buffer.from('before decommission'));

  const start = await ctl(['--server', server.address, '--json', 'decommission']);
  t.is(start.code, 0, start.stderr);
  const doc = parsed<{ servers: Array<{ state: string; shuffles: number }> }>(start);
  t.deepEqual([doc.servers[0]!.state, doc.servers[0]!.shuffles], ['decommissioning', 1]);
  const status = parsed<{ servers: Array<{ status: { decommission: { state: string } } }> }>(await ctl(['--server', server.address, '--json', 'status']));
  t.is(status.servers[0]!.status.decommission.state, 'decommissioning');

  const refused = await t.throwsAsync(registerShuffle(conn, { appId: 'running', shuffleId: 2, numMaps: 1, numPartitions: 2 }));
  t.is((refused as PegasusError).code, 'DECOMMISSIONING');
  w.write(1, Buffer.from('after decommission'));
  t.true((await w.close()).won, 'the running shuffle commits');

  const waiting = ctl(['--server', server.address, '--json', 'decommission', '--wait', '--interval', '0.2', '--timeout', '30']);
  await sleep(800);
  const shown = parsed<{ servers: Array<{ state: string }> }>(await ctl(['--server', server.address, '--json', 'decommission', '--show']));
  t.is(shown.servers[0]!.state, 'decommissioning', 'not drained while the shuffle is there');
  t.is((await ctl(['--server', server.address, 'cleanup', '--app', 'running', '--shuffle', '1'])).code, 0);
  const done = await waiting;
  t.is(done.code, 0, done.stdout + done.stderr);
  const end = parsed<{ ok: boolean; drained: boolean; servers: Array<{ state: string; shuffles: number }> }>(done);
  t.true(end.drained);
  t.deepEqual([end.servers[0]!.state, end.servers[0]!.shuffles], ['drained', 0]);

  const cancel = await ctl(['--server', server.address, 'decommission', '--cancel']);
  t.is(cancel.code, 0, cancel.stderr);
  t.regex(cancel.stdout, /active/);
  await registerShuffle(conn, { appId: 'running', shuffleId: 3, numMaps: 1, numPartitions: 2 });
});

test.serial('decommission --wait gives up after --timeout with TIMEOUT while a shuffle remains', async (t) => {
  const conn = await Connection.connect(server.address);
  t.teardown(() => conn.close());
  await registerShuffle(conn, { appId: 'stays', shuffleId: 1, numMaps: 1, numPartitions: 1 });
  const r = await ctl(['--server', server.address, 'decommission', '--wait', '--interval', '0.2', '--timeout', '1']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^shufflectl: TIMEOUT: /m);
  t.regex(r.stdout, /decommissioning/);
  t.is((await ctl(['--server', server.address, 'decommission', '--cancel'])).code, 0);
});
