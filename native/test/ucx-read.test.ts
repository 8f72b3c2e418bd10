// The UCX read path over real UCX with its default transports (here: shared memory
// and cma between processes, TCP for connection setup), the server in a child
// process. Failure behaviour (server killed, restarted, closed, regions released,
// garbage keys) is tested as first-class as correct bytes.
import test from 'ava';
import { rmSync, unlinkSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nativeBinding, nativeErrorCode } from '../ts/index.js';
import { randomFiles, startServerProcess, type ServerProcess } from './helpers/ucx-child.js';
import { expected, randomGetsMatchFiles, toUcxReads } from './helpers/ucx-oracle.js';

const b = nativeBinding()!;
const MiB = 1 << 20;

async function codeOf(p: Promise<unknown>): Promise<string | null | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return nativeErrorCode(err);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const servers: ServerProcess[] = [];
async function serve(files: Array<{ path: string; bytes: Buffer }>, extra: { port?: number; env?: Record<string, string> } = {}) {
  const s = await startServerProcess({ files: files.map((f) => ({ path: f.path, length: f.bytes.length })), ...extra });
  servers.push(s);
  return s;
}
test.after.always(async () => {
  for (const s of servers) await s.kill();
});

test.serial('gets return the files bytes for random unaligned ranges across several regions, including a 64 MiB one', async (t) => {
  const { dir, files } = randomFiles([64 * MiB, MiB + 123, 3 * MiB + 7, 4097]);
  const server = await serve(files, { env: { PEGASUS_UCX_PRINT_EP: '1' } });
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  const bytes = files.map((f) => f.bytes);
  const total = await randomGetsMatchFiles(t, client, server.regions, bytes, { seed: 7, gets: 150, maxReadBytes: 2 * MiB });
  const whole = await client.get(toUcxReads(server.regions, [{ region: 0, offset: 0, length: 64 * MiB }]), 30_000);
  t.true(whole.equals(bytes[0]!), 'the whole 64 MiB region');
  const lanes = server.stderr().split('\n').filter((l) => /lane|tls|transport/i.test(l));
  t.log(`read ${total + whole.length} bytes; server endpoint config:\n${lanes.slice(0, 12).join('\n')}`);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('garbage region key bytes are INVALID_ARGUMENT and the server stays up', async (t) => {
  const { dir, files } = randomFiles([MiB]);
  const server = await serve(files);
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
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
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
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
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
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
  const { dir, files } = randomFiles([64 * MiB]);
  const server = await serve(files);
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  const r = server.regions[0]!;
  // 1 GiB per get (16 reads of the whole region): a get is in flight when the kill lands.
  const reads = Array.from({ length: 16 }, () => ({ remoteAddress: r.address, rkey: r.rkey, length: 64 * MiB }));
  let killedAt = 0;
  const loop = (async () => {
    for (;;) {
      try {
        await client.get(reads, 60_000);
      } catch (err) {
        return nativeErrorCode(err);
      }
    }
  })();
  await new Promise((res) => setTimeout(res, 150));
  killedAt = Date.now();
  await server.kill('SIGKILL');
  const code = await loop;
  const took = Date.now() - killedAt;
  t.is(code, 'CONNECTION_CLOSED');
  t.true(took < 15_000, `rejected ${took} ms after the kill`);
  t.log(`get rejected ${took} ms after SIGKILL`);
  t.true(client.closed);
  t.is(await codeOf(client.get(reads.slice(0, 1), 5_000)), 'CONNECTION_CLOSED');
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a server restarted on the same port fails the old client with a code and serves a new client', async (t) => {
  const { dir, files } = randomFiles([MiB]);
  const first = await serve(files);
  const port = first.port;
  const old = await b.UcxClient.connect('127.0.0.1', port, 10_000);
  const r0 = first.regions[0]!;
  t.true((await old.get([{ remoteAddress: r0.address, rkey: r0.rkey, length: 100 }], 5_000)).equals(files[0]!.bytes.subarray(0, 100)));
  await first.kill('SIGKILL');
  const second = await serve(files, { port });
  t.is(second.port, port);
  const r1 = second.regions[0]!;
  // The old client's endpoint died with the first process; it may take the client a
  // moment to notice, but no get of it may ever succeed against the new process.
  const deadline = Date.now() + 15_000;
  let code: string | null | 'resolved' = 'resolved';
  while (Date.now() < deadline) {
    code = await codeOf(old.get([{ remoteAddress: r1.address, rkey: r1.rkey, length: 100 }], 2_000));
    if (code !== 'resolved') break;
    await new Promise((res) => setTimeout(res, 50));
  }
  t.not(code, 'resolved');
  t.not(code, null);
  const fresh = await b.UcxClient.connect('127.0.0.1', port, 10_000);
  t.true((await fresh.get([{ remoteAddress: r1.address, rkey: r1.rkey, length: MiB }], 5_000)).equals(files[0]!.bytes));
  await old.close();
  await fresh.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a region released or its file deleted while a client keeps reading never yields wrong bytes, and the server stays up', async (t) => {
  const { dir, files } = randomFiles([8 * MiB, 8 * MiB]);
  const server = await serve(files);
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  const bytes = files.map((f) => f.bytes);
  let stop = false;
  const outcomes = { ok: 0, codes: new Map<string, number>() };
  const readers = [0, 1].map(async (region) => {
    let i = 0;
    while (!stop) {
      const reads = [{ region, offset: (i * 4099) % (4 * MiB), length: 2 * MiB + (i % 5) }];
      i++;
      try {
        const got = await client.get(toUcxReads(server.regions, reads), 10_000);
        if (!got.equals(expected(bytes, reads))) t.fail(`wrong bytes from region ${region}`);
        outcomes.ok++;
      } catch (err) {
        const code = nativeErrorCode(err) ?? `uncoded: ${String(err)}`;
        outcomes.codes.set(code, (outcomes.codes.get(code) ?? 0) + 1);
      }
    }
  });
  await new Promise((res) => setTimeout(res, 200));
  unlinkSync(files[1]!.path); // deleted but still registered: reads keep working
  await new Promise((res) => setTimeout(res, 200));
  t.deepEqual(await server.request({ op: 'release', index: 0 }), { ok: true });
  await new Promise((res) => setTimeout(res, 300));
  t.deepEqual(await server.request({ op: 'release', index: 1 }), { ok: true });
  t.deepEqual(await server.request({ op: 'release', index: 1 }), { ok: true }, 'release is idempotent');
  // New regions after the releases must not make stale keys read their bytes.
  const fresh = randomFiles([8 * MiB, 8 * MiB]);
  for (const f of fresh.files) t.true((await server.request({ op: 'register', path: f.path, length: f.bytes.length }))['ok'] as boolean);
  await new Promise((res) => setTimeout(res, 300));
  stop = true;
  await Promise.all(readers);
  t.log(`ok ${outcomes.ok}, rejected ${JSON.stringify([...outcomes.codes])}`);
  t.true(outcomes.ok > 0);
  for (const code of outcomes.codes.keys()) t.false(code.startsWith('uncoded'), code);
  t.true((outcomes.codes.get('NOT_FOUND') ?? 0) > 0, 'reads after release were rejected');
  const ping = await server.request({ op: 'ping' });
  t.is(ping['ok'], true);
  t.is((ping['stats'] as { regions: number }).regions, 2);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(fresh.dir, { recursive: true, force: true });
});

test.serial('server.close() with connected clients fails their later gets with a code', async (t) => {
  const { dir, files } = randomFiles([MiB]);
  const server = await serve(files);
  const clients = await Promise.all([0, 1, 2].map(() => b.UcxClient.connect('127.0.0.1', server.port, 10_000)));
  const r = server.regions[0]!;
  for (const c of clients) t.true((await c.get([{ remoteAddress: r.address, rkey: r.rkey, length: 10 }], 5_000)).equals(files[0]!.bytes.subarray(0, 10)));
  t.is(((await server.request({ op: 'ping' }))['stats'] as { endpoints: number }).endpoints, 3);
  t.deepEqual(await server.request({ op: 'close' }), { ok: true });
  for (const c of clients) {
    const code = await codeOf(c.get([{ remoteAddress: r.address, rkey: r.rkey, length: 10 }], 5_000));
    t.true(code !== 'resolved' && code !== null, `code ${code}`);
    await c.close();
  }
  t.is((await server.request({ op: 'ping' }))['ok'], true, 'the process is still up');
  rmSync(dir, { recursive: true, force: true });
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
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
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
  const { dir, files } = randomFiles([32 * MiB]);
  const server = await serve(files);
  const r = server.regions[0]!;
  const helper = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'ucx-reader.js');
  for (let round = 0; round < 3; round++) {
    const arg = JSON.stringify({ port: server.port, address: r.address.toString(), rkey: r.rkey.toString('hex'), length: 8 * MiB });
    const reader = spawn(process.execPath, [helper, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      reader.stdout!.on('data', (d: Buffer) => d.toString().includes('"gets"') && res());
      reader.once('exit', (code) => rej(new Error(`reader exited early (${code})`)));
    });
    reader.kill('SIGKILL');
    await new Promise((res) => reader.once('exit', res));
  }
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
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  t.true((await client.get([{ remoteAddress: r.address, rkey: r.rkey, length: 1000 }], 5_000)).equals(files[0]!.bytes.subarray(0, 1000)));
  t.is(server.proc.exitCode, null);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});
