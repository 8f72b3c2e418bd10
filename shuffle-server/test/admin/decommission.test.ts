// Decommissioning against a real server with a writer pushing: new shuffles are
// refused with DECOMMISSIONING, the running shuffle commits and reads back
// exactly, and the state is drained once it is removed.
import test from 'ava';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { RawClient } from '../helpers/raw-client.js';
import { httpGet, removeDir, startServer, stopServer } from '../helpers/server-process.js';
import { checkRead, makeBatch, pushBatch, readRange, rng, type ModelBlock } from '../helpers/shuffle-model.js';
import { api, commit, metricValue, register } from './admin-helpers.js';

test('decommissioning refuses new shuffles with DECOMMISSIONING while a running shuffle keeps pushing, commits and reads back exactly; drained once it is removed', async (t) => {
  const s = await startServer();
  try {
    const writer = await RawClient.connect(s.address);
    const control = await RawClient.connect(s.address);
    t.is((await register(writer, 'app-run', 1, 2, 8)).type, 'Ack');
    const r = rng(42);
    const written: ModelBlock[] = [];
    let batches = 0;
    let stop = false;
    // The writer pushes batches of map 0 until told to stop.
    const pushing = (async () => {
      while (!stop || batches < 5) {
        const batch = makeBatch(r, 0, 1, batches, 8, 6, 20_000);
        await pushBatch(writer, 'app-run', 1, batch);
        written.push(...batch);
        batches++;
      }
    })();
    while (batches < 2) await new Promise((res) => setTimeout(res, 5));

    const started = await api(s.address, 'POST', '/api/v1/decommission');
    t.is(started.status, 200, started.text);
    t.deepEqual(started.body, { state: 'decommissioning', shuffles: 1 });
    t.deepEqual((await api(s.address, 'GET', '/api/v1/decommission')).body, { state: 'decommissioning', shuffles: 1 });
    t.is((JSON.parse((await httpGet(s.address, '/healthz')).body) as Record<string, unknown>)['decommission'], 'decommissioning');
    t.is(metricValue((await httpGet(s.address, '/metrics')).body, 'pegasus_decommissioning'), 1);
    t.is(((await api(s.address, 'GET', '/api/v1/status')).body['decommission'] as Record<string, unknown>)['state'], 'decommissioning');

    // New shuffles, of a held app or a new one, are refused; the new app is not created.
    const refused = await register(control, 'app-run', 2, 1, 2);
    t.is(refused.type, 'Error');
    t.is(refused.code, ErrorCode.DECOMMISSIONING);
    t.is((await register(control, 'app-new', 1, 1, 2)).code, ErrorCode.DECOMMISSIONING);
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-new')).status, 404);
    // Registering the shuffle it already has is still fine (a retried register).
    t.is((await register(control, 'app-run', 1, 2, 8)).type, 'Ack');
    const errors = (await api(s.address, 'GET', '/api/v1/errors')).body['errors'] as Array<Record<string, unknown>>;
    t.is(errors[0]!['code'], 'DECOMMISSIONING');

    stop = true;
    await pushing;
    await commit(writer, 'app-run', 1, 0, batches);
    // A second map, pushed and committed entirely after decommissioning began.
    const map1 = makeBatch(r, 1, 1, 0, 8, 6, 20_000);
    await pushBatch(writer, 'app-run', 1, map1);
    await commit(writer, 'app-run', 1, 1, 1);
    t.is(checkRead(await readRange(control, 'app-run', 1, 0, 8, 0, 2), [...written, ...map1]), null);
    t.deepEqual((await api(s.address, 'GET', '/api/v1/decommission')).body, { state: 'decommissioning', shuffles: 1 });

    t.is((await api(s.address, 'DELETE', '/api/v1/apps/app-run/shuffles/1')).status, 200);
    t.deepEqual((await api(s.address, 'GET', '/api/v1/decommission')).body, { state: 'drained', shuffles: 0 });
    t.is((JSON.parse((await httpGet(s.address, '/healthz')).body) as Record<string, unknown>)['decommission'], 'drained');

    // Back to active: new shuffles are taken again.
    t.deepEqual((await api(s.address, 'DELETE', '/api/v1/decommission')).body, { state: 'active', shuffles: 0 });
    t.is((await register(control, 'app-run', 2, 1, 2)).type, 'Ack');
    t.is(metricValue((await httpGet(s.address, '/metrics')).body, 'pegasus_decommissioning'), 0);
    writer.close();
    control.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});
