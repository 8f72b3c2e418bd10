// The UCX read path restricted to UCX's TCP transport (UCX_TLS=tcp in this
// process and in the server), the transport a cluster without RDMA or shared
// memory between hosts would use. Same oracle: the WebSocket read.
process.env['UCX_TLS'] = 'tcp';

import test from 'ava';

import { removeDir, startServer, stopServer, type ServerProcess } from '../../shuffle-server/test/helpers/server-process.js';
import { unregisterApp } from '../src/control.js';
import { connectFor } from './shuffle-fixtures.js';
import { readBlockList, writeTrickyShuffle } from './ucx-fixtures.js';

let server: ServerProcess;

test.before(async () => {
  server = await startServer({ args: ['--ucx', 'on'], env: { UCX_TLS: 'tcp' } });
});

test.after.always(async () => {
  if (server !== undefined) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

test('over UCX TCP only, a UCX read yields the same blocks as a WebSocket read', async (t) => {
  const app = 'ucx-tcp';
  const conn = await connectFor(t, server.address);
  await writeTrickyShuffle(t, conn, app, 5, true);
  const ws = await readBlockList(conn, app, [0, 5], [0, 5], 'websocket');
  const ucx = await readBlockList(conn, app, [0, 5], [0, 5], 'ucx');
  t.true(ws.length > 100);
  t.deepEqual(ucx, ws);
  await unregisterApp(conn, app);
});
