// Worker address endpoints with UCX restricted to TCP (UCX_TLS=tcp in this process
// and in the server's): the lanes a client on another host gets on a machine
// without RDMA. Same scenarios as ucx-address.test.ts, and a check of the lanes.
process.env['UCX_TLS'] = 'tcp';

import test from 'ava';

import { nativeBinding } from '../ts/index.js';
import { startServerProcess, type ServerProcess } from './helpers/ucx-child.js';
import {
  randomRangesMatchFiles,
  releaseWhileReading,
  serverKilledDuringGet,
  serverRestarted,
  type Connect,
  type Serve,
} from './helpers/ucx-scenarios.js';

const b = nativeBinding()!;
const TCP = { UCX_TLS: 'tcp' };

const servers: ServerProcess[] = [];
const serve: Serve = async (files, env = {}) => {
  const s = await startServerProcess({ files: files.map((f) => ({ path: f.path, length: f.bytes.length })), env: { ...TCP, ...env } });
  servers.push(s);
  return s;
};
const byAddress: Connect = (s) => b.UcxClient.connectAddress(s.workerAddress, 10_000);
test.after.always(async () => {
  for (const s of servers) await s.kill();
});

test.serial('over TCP only, a worker address endpoint has tcp lanes only and gets return the files bytes for random unaligned ranges', async (t) => {
  const lanes = await randomRangesMatchFiles(t, serve, byAddress, 23);
  const lines = lanes.split('\n');
  t.true(lines.length > 0 && lines.every((l) => /\btcp\//.test(l)), lanes);
  t.true(lines.every((l) => !/posix|sysv|cma/.test(l)), 'no shared-memory lane with UCX_TLS=tcp');
});

test.serial('over TCP only, a region released while a worker address client reads never yields wrong bytes', async (t) => {
  await releaseWhileReading(t, serve, byAddress);
});

test.serial('over TCP only, a SIGKILLed server rejects a worker address client get with CONNECTION_CLOSED', async (t) => {
  await serverKilledDuringGet(t, serve, byAddress);
});

test.serial('over TCP only, a restarted server fails the old worker address client with a code and serves a new one', async (t) => {
  await serverRestarted(t, serve, byAddress);
});
