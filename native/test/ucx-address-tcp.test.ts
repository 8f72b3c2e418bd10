// Worker address endpoints with UCX restricted to TCP (UCX_TLS=tcp in this process
// and in the server's): the lanes a client on another host gets on a machine
// without RDMA. Same scenarios as ucx-address.test.ts, and a check of the lanes.
process.env['UCX_TLS'] = 'tcp';

import test from 'ava';

import * as scenario from './helpers/ucx-scenarios.js';
import { connectBy, serverProcesses } from './helpers/ucx-setup.js';

const serve = serverProcesses({ UCX_TLS: 'tcp' });
const byAddress = connectBy.address;

test.serial('over TCP only, a worker address endpoint has tcp lanes only and gets return the files bytes for random unaligned ranges', async (t) => {
  const { lanes } = await scenario.randomRangesMatchFiles(t, serve, byAddress, { seed: 23 });
  const lines = lanes.split('\n');
  t.true(lines.length > 0 && lines.every((l) => /\btcp\//.test(l)), lanes);
  t.true(lines.every((l) => !/posix|sysv|cma/.test(l)), 'no shared-memory lane with UCX_TLS=tcp');
});

test.serial('over TCP only, a region released while a worker address client reads never yields wrong bytes', async (t) => {
  await scenario.releaseWhileReading(t, serve, byAddress);
});

test.serial('over TCP only, a SIGKILLed server rejects a worker address client get with CONNECTION_CLOSED', async (t) => {
  await scenario.serverKilledDuringGet(t, serve, byAddress);
});

test.serial('over TCP only, a restarted server fails the old worker address client with a code and serves a new one', async (t) => {
  await scenario.serverRestarted(t, serve, byAddress);
});
