// The UCX read path over endpoints made from the server's worker address
// (UcxServer.workerAddress → UcxClient.connectAddress), default transports, the
// server in a child process. UCX picks the lanes itself; which ones it picked is
// logged and checked against the transports UCX has (see UCX.md "Transports used
// here" for why UCX 1.13 picks tcp here even on one host).
import test from 'ava';
import { rmSync } from 'node:fs';

import { nativeBinding } from '../ts/index.js';
import { randomFiles } from './helpers/ucx-child.js';
import * as scenario from './helpers/ucx-scenarios.js';
import { codeOf, connectBy, serverProcesses, spawnReader } from './helpers/ucx-setup.js';

const b = nativeBinding()!;
const MiB = 1 << 20;
const LANE_TRANSPORTS = /\b(tcp|cma|posix|sysv|self|rc_verbs|rc_mlx5|dc_mlx5|ud_verbs|ud_mlx5)\//;

const serve = serverProcesses();
const byAddress = connectBy.address;

test.serial('worker address is a small PGWA envelope', async (t) => {
  const server = await b.UcxServer.start('127.0.0.1', 0);
  const a = server.workerAddress();
  t.is(a.subarray(0, 4).toString('latin1'), 'PGWA');
  t.true(a.length > 16 && a.length <= 2048, `${a.length} bytes`);
  t.true(server.workerAddress().equals(a), 'stable over the worker life');
  t.log(`worker address envelope: ${a.length} bytes`);
  await server.close();
  t.true(server.workerAddress().equals(a), 'still readable after close (meaningless to clients then)');
});

test.serial('over a worker address endpoint, gets return the files bytes for random unaligned ranges, including a 64 MiB region', async (t) => {
  const { lanes } = await scenario.randomRangesMatchFiles(t, serve, byAddress, { seed: 17 });
  const lines = lanes.split('\n');
  t.true(lines.length > 0 && lines.every((l) => /^lane\[\d+\]:/.test(l)), lanes);
  t.true(lines.some((l) => LANE_TRANSPORTS.test(l)), lanes);
});

test.serial('garbage worker address bytes are INVALID_ARGUMENT before UCX sees them', async (t) => {
  const server = await b.UcxServer.start('127.0.0.1', 0);
  const a = server.workerAddress();
  const flipped = Buffer.from(a);
  flipped[20] = flipped[20]! ^ 0x01;
  const wrongVersion = Buffer.from(a);
  wrongVersion[4] = 2;
  const garbage = [
    Buffer.alloc(0),
    Buffer.alloc(3, 1),
    Buffer.alloc(200, 0xff),
    flipped,
    wrongVersion,
    a.subarray(0, a.length - 1),
    Buffer.concat([a, Buffer.alloc(1)]),
    Buffer.alloc(64 * 1024, 0x41),
  ];
  for (const g of garbage) t.is(await codeOf(b.UcxClient.connectAddress(g, 2_000)), 'INVALID_ARGUMENT', `${g.length} bytes`);
  t.is(await codeOf(b.UcxClient.connectAddress(a, 0)), 'INVALID_ARGUMENT', 'zero timeout');
  const c = await b.UcxClient.connectAddress(a, 5_000);
  t.false(c.closed);
  await c.close();
  await server.close();
});

test.serial('a listener endpoint and a worker address endpoint to one server read the same bytes', async (t) => {
  const { dir, files } = randomFiles([2 * MiB + 3]);
  const server = await serve(files);
  const r = server.regions[0]!;
  const viaListener = await connectBy.listener(server);
  const viaAddress = await byAddress(server);
  const reads = [{ remoteAddress: r.address + 5n, rkey: r.rkey, length: 2 * MiB - 2 }];
  const [x, y] = await Promise.all([viaListener.get(reads, 5_000), viaAddress.get(reads, 5_000)]);
  t.true(x.equals(files[0]!.bytes.subarray(5, 5 + 2 * MiB - 2)));
  t.true(y.equals(x));
  t.log(`listener lanes:\n${viaListener.transports()}\naddress lanes:\n${viaAddress.transports()}`);
  await viaListener.close();
  await viaAddress.close();
  t.true(viaAddress.closed);
  t.is(await codeOf(viaAddress.get(reads, 1_000)), 'SHUTTING_DOWN');
  rmSync(dir, { recursive: true, force: true });
});

test.serial('over a worker address endpoint, a region released or its file deleted while clients read never yields wrong bytes', async (t) => {
  await scenario.releaseWhileReading(t, serve, byAddress);
});

test.serial('over a worker address endpoint, a SIGKILLed server rejects the get in flight and later ones with CONNECTION_CLOSED', async (t) => {
  await scenario.serverKilledDuringGet(t, serve, byAddress);
});

test.serial('a restarted server has a new worker address: the old client fails with a code, the old address does not connect, the new one does', async (t) => {
  const { old } = await scenario.serverRestarted(t, serve, byAddress);
  const started = Date.now();
  const code = await codeOf(b.UcxClient.connectAddress(old.workerAddress, 3_000));
  t.true(code === 'CONNECTION_CLOSED' || code === 'TIMEOUT', `connect to a dead worker: ${code}`);
  t.true(Date.now() - started < 3_000 + 1_000, `took ${Date.now() - started} ms`);
});

test.serial('clients on worker address endpoints SIGKILLed in the middle of gets do not take the server down', async (t) => {
  await scenario.readersKilledMidGet(t, serve, 'address', async (server) => {
    await new Promise((res) => setTimeout(res, 500));
    t.is((await server.request({ op: 'ping' }))['ok'], true);
  });
});

test.serial('with UCX_PROTO_ENABLE=y in the environment, a reader whose server is SIGKILLed gets a code instead of aborting', async (t) => {
  // UCX 1.13's v2 protocols abort in ucp_ep_reqs_purge on peer failure; the context pins them off.
  const { dir, files } = randomFiles([8 * MiB]);
  const server = await serve(files);
  const { proc: reader, reading } = spawnReader(server, 'address', { length: 8 * MiB, stderr: 'pipe', env: { UCX_PROTO_ENABLE: 'y' } });
  let err = '';
  reader.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': the reader's stderr is only complete once its pipes closed.
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => reader.once('close', (code, signal) => res({ code, signal })));
  await reading;
  await server.kill('SIGKILL');
  const { code, signal } = await exited;
  t.is(signal, null, `reader died of ${signal}: ${err}`);
  t.is(code, 1);
  t.regex(err, /CONNECTION_CLOSED/);
  rmSync(dir, { recursive: true, force: true });
});

test.serial('server.close() with worker address clients fails their later gets with a code, and the process stays up', async (t) => {
  // Worker address endpoints are UCX's internal ones on the server side: not counted.
  await scenario.serverCloseFailsLaterGets(t, serve, byAddress, 2, 0);
});
