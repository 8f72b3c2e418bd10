// Test scenarios of the UCX read path that must hold for every way of making a
// client's endpoint (listener sockaddr, exchanged worker address) and every
// transport choice (default UCX_TLS, UCX_TLS=tcp). Each takes the way to connect
// and the way to start a server process, so the test files only pick the matrix.
import type { ExecutionContext } from 'ava';
import { rmSync } from 'node:fs';

import { nativeErrorCode } from '../../ts/index.js';
import { randomFiles, type ServerProcess } from './ucx-child.js';
import { expected, randomGetsMatchFiles, toUcxReads } from './ucx-oracle.js';
import { codeOf, connectBy, spawnReader, type Connect, type Serve, type Via } from './ucx-setup.js';

const MiB = 1 << 20;

/**
 * Random unaligned ranges across several files (one of 64 MiB) equal the files'
 * bytes; returns the client's lanes and the server (started with `env`), whose
 * stderr stays readable.
 */
export async function randomRangesMatchFiles(
  t: ExecutionContext,
  serve: Serve,
  connect: Connect,
  opts: { seed: number; env?: Record<string, string> },
): Promise<{ lanes: string; server: ServerProcess }> {
  const { seed, env = {} } = opts;
  const { dir, files } = randomFiles([64 * MiB, MiB + 123, 3 * MiB + 7, 4097]);
  const server = await serve(files, { env });
  const client = await connect(server);
  const bytes = files.map((f) => f.bytes);
  const total = await randomGetsMatchFiles(t, client, server.regions, bytes, { seed, gets: 150, maxReadBytes: 2 * MiB });
  const whole = await client.get(toUcxReads(server.regions, [{ region: 0, offset: 0, length: 64 * MiB }]), 30_000);
  t.true(whole.equals(bytes[0]!), 'the whole 64 MiB region');
  const lanes = client.transports();
  t.log(`read ${total + whole.length} bytes; client lanes:\n${lanes}`);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  return { lanes, server };
}

/**
 * Readers keep reading two regions while one file is deleted (still registered) and
 * both regions are released (the second twice: release is idempotent) and new ones
 * registered: every answer is the right bytes or a code (NOT_FOUND after the
 * release), and the server stays up.
 */
export async function releaseWhileReading(t: ExecutionContext, serve: Serve, connect: Connect): Promise<void> {
  const { dir, files } = randomFiles([8 * MiB, 8 * MiB]);
  const server = await serve(files);
  const client = await connect(server);
  const bytes = files.map((f) => f.bytes);
  let stop = false;
  const outcomes = { ok: 0, codes: new Map<string, number>() };
  const readers = [0, 1, 0].map(async (region, k) => {
    let i = 0;
    while (!stop) {
      const reads = [{ region, offset: (k * MiB + i * 4099) % (4 * MiB), length: 2 * MiB + (i % 5) }];
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
  rmSync(files[1]!.path); // deleted but still registered: reads keep working
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
  t.is(server.proc.exitCode, null);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(fresh.dir, { recursive: true, force: true });
}

/**
 * SIGKILL of the server during a 1 GiB get: rejected with one of `codes` within 15 s,
 * then every later get too. Returns whether the client said it was closed once the
 * get was rejected, and how many gets in flight at the kill resolved all the same.
 */
export async function serverKilledDuringGet(
  t: ExecutionContext,
  serve: Serve,
  connect: Connect,
  codes: string[] = ['CONNECTION_CLOSED', 'TIMEOUT'],
): Promise<{ closed: boolean; resolvedAfterKill: number }> {
  const { dir, files } = randomFiles([64 * MiB]);
  const server = await serve(files);
  const client = await connect(server);
  const r = server.regions[0]!;
  // 1 GiB per get (16 reads of the whole region): a get is in flight when the kill lands.
  const reads = Array.from({ length: 16 }, () => ({ remoteAddress: r.address, rkey: r.rkey, length: 64 * MiB }));
  let killedAt = 0;
  let resolvedAfterKill = 0;
  const loop = (async () => {
    for (;;) {
      try {
        await client.get(reads, 20_000);
        if (killedAt !== 0) resolvedAfterKill++;
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
  const closed = client.closed;
  t.true(code !== null && codes.includes(code), `code ${code}`);
  t.true(took < 15_000, `rejected ${took} ms after the kill`);
  t.log(`get rejected with ${code} ${took} ms after SIGKILL`);
  const later = await codeOf(client.get(reads.slice(0, 1), 3_000));
  t.true(later !== null && codes.includes(later), `later get: ${later}`);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  return { closed, resolvedAfterKill };
}

/**
 * A server killed and started again (new process, new worker address and keys):
 * the old client never reads from it successfully, and a new client made the same
 * way reads the right bytes. With `samePort` the new process listens on the old port.
 */
export async function serverRestarted(
  t: ExecutionContext,
  serve: Serve,
  connect: Connect,
  samePort = false,
): Promise<{ old: ServerProcess; fresh: ServerProcess }> {
  const { dir, files } = randomFiles([MiB]);
  const first = await serve(files);
  const old = await connect(first);
  const r0 = first.regions[0]!;
  t.true((await old.get([{ remoteAddress: r0.address, rkey: r0.rkey, length: 100 }], 5_000)).equals(files[0]!.bytes.subarray(0, 100)));
  await first.kill('SIGKILL');
  const second = await serve(files, samePort ? { port: first.port } : {});
  if (samePort) t.is(second.port, first.port);
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
  t.true(code !== 'resolved' && code !== null, `old client: ${code}`);
  const fresh = await connect(second);
  t.true((await fresh.get([{ remoteAddress: r1.address, rkey: r1.rkey, length: MiB }], 5_000)).equals(files[0]!.bytes));
  await old.close();
  await fresh.close();
  rmSync(dir, { recursive: true, force: true });
  return { old: first, fresh: second };
}

/**
 * server.close() with `clients` connected clients (the server counting `endpoints`
 * of them): their later gets fail with a code, and the process stays up.
 */
export async function serverCloseFailsLaterGets(
  t: ExecutionContext,
  serve: Serve,
  connect: Connect,
  clients: number,
  endpoints: number,
): Promise<void> {
  const { dir, files } = randomFiles([MiB]);
  const server = await serve(files);
  const connected = await Promise.all(Array.from({ length: clients }, () => connect(server)));
  const r = server.regions[0]!;
  const read = [{ remoteAddress: r.address, rkey: r.rkey, length: 10 }];
  for (const c of connected) t.true((await c.get(read, 5_000)).equals(files[0]!.bytes.subarray(0, 10)));
  t.is(((await server.request({ op: 'ping' }))['stats'] as { endpoints: number }).endpoints, endpoints);
  t.deepEqual(await server.request({ op: 'close' }), { ok: true });
  for (const c of connected) {
    const code = await codeOf(c.get(read, 5_000));
    t.true(code !== 'resolved' && code !== null, `code ${code}`);
    t.log(`after server close: ${code}`);
    await c.close();
  }
  t.is((await server.request({ op: 'ping' }))['ok'], true, 'the process is still up');
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Readers in child processes, connected `via` the listener or the worker address,
 * SIGKILLed in the middle of their gets, three times; after `settle` a new client
 * reads the right bytes and the server process is still up.
 */
export async function readersKilledMidGet(
  t: ExecutionContext,
  serve: Serve,
  via: Via,
  settle: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  const { dir, files } = randomFiles([32 * MiB]);
  const server = await serve(files);
  for (let round = 0; round < 3; round++) {
    const reader = spawnReader(server, via, { length: 8 * MiB });
    await reader.reading;
    reader.proc.kill('SIGKILL');
    await new Promise((res) => reader.proc.once('exit', res));
  }
  await settle(server);
  const r = server.regions[0]!;
  const client = await connectBy[via](server);
  t.true((await client.get([{ remoteAddress: r.address, rkey: r.rkey, length: 1000 }], 5_000)).equals(files[0]!.bytes.subarray(0, 1000)));
  t.is(server.proc.exitCode, null);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
}
