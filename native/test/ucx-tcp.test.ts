// The UCX read path with UCX restricted to TCP (UCX_TLS=tcp in this process and in
// the server's), the transport that stands in for RDMA verbs on machines without
// them. Over TCP, UCX serves a get by reading the server's memory itself, so the
// release test here is the one that would crash a server that unmapped a region
// under a late get (see UCX.md, "Release and tombstones").
process.env['UCX_TLS'] = 'tcp';

import test from 'ava';

import * as scenario from './helpers/ucx-scenarios.js';
import { connectBy, serverProcesses } from './helpers/ucx-setup.js';

const serve = serverProcesses({ UCX_TLS: 'tcp' });
const byListener = connectBy.listener;

test.serial('over TCP only, gets return the files bytes for random unaligned ranges, including a 64 MiB region', async (t) => {
  const { server } = await scenario.randomRangesMatchFiles(t, serve, byListener, { seed: 11, env: { PEGASUS_UCX_PRINT_EP: '1' } });
  const lanes = server.stderr().split('\n').filter((l) => /lane\[/.test(l));
  t.true(lanes.every((l) => !/posix|sysv|cma/.test(l)), 'no shared-memory lane with UCX_TLS=tcp');
  t.log(`server lanes:\n${lanes.join('\n')}`);
});

test.serial('over TCP only, a server killed during a large get rejects it with CONNECTION_CLOSED', async (t) => {
  const { resolvedAfterKill } = await scenario.serverKilledDuringGet(t, serve, byListener, ['CONNECTION_CLOSED']);
  t.is(resolvedAfterKill, 0, 'the get in flight at the kill is the one rejected');
});

test.serial('over TCP only, gets racing a region release return the right bytes or a code, and the server survives', async (t) => {
  await scenario.releaseWhileReading(t, serve, byListener);
});
