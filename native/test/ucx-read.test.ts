// The UCX read path over real UCX with its default transports (here: shared memory
// and cma between processes, TCP for connection setup), the server in a child
// process. Failure behaviour (server killed, restarted, closed, regions released,
// garbage keys) is tested as first-class as correct bytes.
import test from 'ava';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

import { nativeBinding } from '../ts/index.js';
import { randomFiles } from './helpers/ucx-child.js';
import * as scenario from './helpers/ucx-scenarios.js';
import { codeOf, connectBy, serverProcesses } from './helpers/ucx-setup.js';

const b = nativeBinding()!;
const MiB = 1 << 20;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const serve = serverProcesses();
const byListener = connectBy.listener;

test.serial('gets return the files bytes for random unaligned ranges across several regions, including a 64 MiB one', async (t) => {
  const { server } = await scenario.randomRangesMatchFiles(t, serve, byListener, { seed: 7, env: { PEGASUS_UCX_PRINT_EP: '1' } });
  const lanes = server.stderr().split('\n').filter((l) => /lane|tls|transport/i.test(l));
  t.log(`server endpoint config:\n${lanes.slice(0, 12).join('\n')}`);
});

test.serial('garbage region key bytes are INVALID_ARGUMENT and the server stays up', async (t) => {
  const { dir, files } = randomFiles([MiB]);
  const server = await serve(files);
  const client = await byListener(server);
  const r = server.regions[0]!;
  const garbage = [Buffer.alloc(0), Buffer.alloc(80, 0xff), Buffer.from(r.rkey).fill(0, 60, 64), r.rkey.subarray(0, r.rkey.length - 1)];
  for (const rkey of garbage) {
    t.is(await codeOf(client.get([{ remoteAddress: r.address, rkey, length: 16 }], 5_000)), 'INVALID_ARGUMENT');
  }
  // A valid key with a flipped byte inside the packed ucp key fails its CRC.
  const flipped = Buffer.from(r.rkey);
  flipped[50] = flipped[50]! ^ 0x55;
  t.is(await codeOf(client.get([{ remoteAddress: r.address, rkey: flipped, length: 16 }], 5_000)), 'INVALID_ARGUMENT');
  const good = await client.get([{ remoteAddress: r.address, rkey: r.rkey, length: 16 }], 5_000);
  t.true(good.equals(files[0]!.bytes.subarray(0, 16)));
  t.deepEqual((await server.request({ op: 'ping' }))['ok'], true);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('zero, oversized and out-of-region lengths are INVALID_ARGUMENT', async (t) => {
  const { dir, files } = randomFiles([MiB]);
  const server = await serve(files);
  const client = await byListener(server);
  const r = server.regions[0]!;
  const get = (remoteAddress: bigint, length: number) => codeOf(client.get([{ remoteAddress, rkey: r.rkey, length }], 5_000));
  t.is(await get(r.address, 0), 'INVALID_ARGUMENT');
  t.is(await get(r.address, 2 ** 30 + 1), 'INVALID_ARGUMENT');
  t.is(await get(r.address, MiB + 1), 'INVALID_ARGUMENT');
  t.is(await get(r.address + 1n, MiB), 'INVALID_ARGUMENT');
  t.is(await get(r.address - 1n, 1), 'INVALID_ARGUMENT');
  t.is(await get(r.address, 1.5), 'INVALID_ARGUMENT');
  t.is(await codeOf(client.get([], 5_000)), 'INVALID_ARGUMENT');
  t.is(await codeOf(client.get([{ remoteAddress: r.address, rkey: r.rkey, length: 1 }], 0)), 'INVALID_ARGUMENT');
  const tooMany = Array.from({ length: 4097 }, () => ({ remoteAddress: r.address, rkey: r.rkey, length: 1 }));
  t.is(await codeOf(client.get(tooMany, 5_000)), 'LIMIT_EXCEEDED');
  t.false(client.closed);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('get after close is SHUTTING_DOWN and close is idempotent', async (t) => {
  const { dir, files } = randomFiles([4096]);
  const server = await serve(files);
  const client = await byListener(server);
  const r = server.regions[0]!;
  await client.close();
  await client.close();
  t.true(client.closed);
  t.is(await codeOf(client.get([{ remoteAddress: r.address, rkey: r.rkey, length: 1 }], 5_000)), 'SHUTTING_DOWN');
  rmSync(dir, { recursive: true, force: true });
});

test.serial('connect to a port with nothing listening fails with CONNECTION_CLOSED or TIMEOUT within the timeout', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const code = await codeOf(b.UcxClient.connect('127.0.0.1', port, 3_000));
  t.true(code === 'CONNECTION_CLOSED' || code === 'TIMEOUT', `code ${code}`);
  t.true(Date.now() - started < 3_000 + 1_000, `took ${Date.now() - started} ms`);
});

test.serial('server killed during a large get rejects the get with CONNECTION_CLOSED within a bounded time', async (t) => {
  const { closed } = await scenario.serverKilledDuringGet(t, serve, byListener, ['CONNECTION_CLOSED']);
  t.true(closed);
});

test.serial('a server restarted on the same port fails the old client with a code and serves a new client', async (t) => {
  await scenario.serverRestarted(t, serve, byListener, true);
});

test.serial('a region released or its file deleted while a client keeps reading never yields wrong bytes, and the server stays up', async (t) => {
  await scenario.releaseWhileReading(t, serve, byListener);
});

test.serial('server.close() with connected clients fails their later gets with a code', async (t) => {
  await scenario.serverCloseFailsLaterGets(t, serve, byListener, 3, 3);
});

test.serial('register reports NOT_FOUND for a missing file and INVALID_ARGUMENT for zero or too-long lengths; stats count regions', async (t) => {
  const { dir, files } = randomFiles([10_000]);
  const server = await b.UcxServer.start('127.0.0.1', 0);
  t.true(server.port > 0);
  t.is(await codeOf(server.register(`${dir}/missing`, 10)), 'NOT_FOUND');
  t.is(await codeOf(server.register(files[0]!.path, 0)), 'INVALID_ARGUMENT');
  t.is(await codeOf(server.register(files[0]!.path, 10_001)), 'INVALID_ARGUMENT');
  t.is(await codeOf(server.register(dir, 10)), 'INVALID_ARGUMENT');
  const region = await server.register(files[0]!.path, 10_000);
  t.is(region.length, 10_000);
  t.deepEqual(server.stats(), { endpoints: 0, regions: 1, registeredBytes: 10_000 });
  await region.release();
  await region.release();
  t.deepEqual(server.stats(), { endpoints: 0, regions: 0, registeredBytes: 0 });
  await server.close();
  await server.close();
  t.is(await codeOf(server.register(files[0]!.path, 10)), 'SHUTTING_DOWN');
  await region.release();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a stalled server (SIGSTOP) makes gets reject with TIMEOUT, and the client works again once it resumes', async (t) => {
  const { dir, files } = randomFiles([8 * MiB]);
  const server = await serve(files);
  const client = await byListener(server);
  const r = server.regions[0]!;
  const reads = [{ remoteAddress: r.address, rkey: r.rkey, length: 8 * MiB }];
  t.true((await client.get(reads, 5_000)).equals(files[0]!.bytes));
  process.kill(server.pid, 'SIGSTOP');
  try {
    const started = Date.now();
    t.is(await codeOf(client.get(reads, 500)), 'TIMEOUT');
    const took = Date.now() - started;
    t.true(took >= 450 && took < 2_000, `timed out after ${took} ms`);
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
  t.true((await client.get(reads, 10_000)).equals(files[0]!.bytes), 'same client, after the stall');
  t.false(client.closed);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('clients SIGKILLed in the middle of gets and raw garbage on the listener port do not take the server down', async (t) => {
  await scenario.readersKilledMidGet(t, serve, 'listener', async (server) => {
    // Bytes that are not the UCX connection protocol, then an abrupt close.
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((res) => {
        const s = connect(server.port, '127.0.0.1', () => {
          s.write(Buffer.alloc(4096, 0xa5));
          setTimeout(() => s.destroy(), 50);
        });
        s.on('error', () => {});
        s.on('close', () => res());
      });
    }
    // The server notices the dead endpoints and keeps serving new clients.
    const deadline = Date.now() + 15_000;
    let endpoints = -1;
    while (Date.now() < deadline) {
      endpoints = ((await server.request({ op: 'ping' }))['stats'] as { endpoints: number }).endpoints;
      if (endpoints === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    t.is(endpoints, 0, 'endpoints of killed clients are dropped');
  });
});
