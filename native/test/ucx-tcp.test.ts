// The UCX read path with UCX restricted to TCP (UCX_TLS=tcp in this process and in
// the server's), the transport that stands in for RDMA verbs on machines without
// them. Over TCP, UCX serves a get by reading the server's memory itself, so the
// release test here is the one that would crash a server that unmapped a region
// under a late get (see UCX.md, "Release and tombstones").
process.env['UCX_TLS'] = 'tcp';

import test from 'ava';
import { rmSync } from 'node:fs';

import { nativeBinding, nativeErrorCode } from '../ts/index.js';
import { randomFiles, startServerProcess, type ServerProcess } from './helpers/ucx-child.js';
import { expected, randomGetsMatchFiles, toUcxReads } from './helpers/ucx-oracle.js';

const b = nativeBinding()!;
const MiB = 1 << 20;
const TCP = { UCX_TLS: 'tcp' };

const servers: ServerProcess[] = [];
async function serve(files: Array<{ path: string; bytes: Buffer }>, env: Record<string, string> = {}) {
  const s = await startServerProcess({ files: files.map((f) => ({ path: f.path, length: f.bytes.length })), env: { ...TCP, ...env } });
  servers.push(s);
  return s;
}
test.after.always(async () => {
  for (const s of servers) await s.kill();
});

test.serial('over TCP only, gets return the files bytes for random unaligned ranges, including a 64 MiB region', async (t) => {
  const { dir, files } = randomFiles([64 * MiB, 2 * MiB + 1, 5000]);
  const server = await serve(files, { PEGASUS_UCX_PRINT_EP: '1' });
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  const bytes = files.map((f) => f.bytes);
  const total = await randomGetsMatchFiles(t, client, server.regions, bytes, { seed: 11, gets: 100, maxReadBytes: 2 * MiB });
  const whole = await client.get(toUcxReads(server.regions, [{ region: 0, offset: 0, length: 64 * MiB }]), 30_000);
  t.true(whole.equals(bytes[0]!));
  const lanes = server.stderr().split('\n').filter((l) => /lane\[/.test(l));
  t.true(lanes.every((l) => !/posix|sysv|cma/.test(l)), 'no shared-memory lane with UCX_TLS=tcp');
  t.log(`read ${total + whole.length} bytes; server lanes:\n${lanes.join('\n')}`);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('over TCP only, a server killed during a large get rejects it with CONNECTION_CLOSED', async (t) => {
  const { dir, files } = randomFiles([64 * MiB]);
  const server = await serve(files);
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  const r = server.regions[0]!;
  const reads = Array.from({ length: 16 }, () => ({ remoteAddress: r.address, rkey: r.rkey, length: 64 * MiB }));
  const pending = client.get(reads, 60_000).then(
    () => 'resolved',
    (err: unknown) => nativeErrorCode(err),
  );
  await new Promise((res) => setTimeout(res, 100));
  const killedAt = Date.now();
  await server.kill('SIGKILL');
  const code = await pending;
  t.is(code, 'CONNECTION_CLOSED');
  t.true(Date.now() - killedAt < 15_000);
  t.log(`rejected ${Date.now() - killedAt} ms after SIGKILL`);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('over TCP only, gets racing a region release return the right bytes or a code, and the server survives', async (t) => {
  const { dir, files } = randomFiles([16 * MiB]);
  const server = await serve(files);
  const client = await b.UcxClient.connect('127.0.0.1', server.port, 10_000);
  const bytes = files.map((f) => f.bytes);
  let stop = false;
  const seen = { ok: 0, codes: new Map<string, number>() };
  const readers = [0, 1, 2].map(async (k) => {
    let i = 0;
    while (!stop) {
      const reads = [{ region: 0, offset: (k * MiB + i++ * 8191) % (8 * MiB), length: 4 * MiB + k }];
      try {
        const got = await client.get(toUcxReads(server.regions, reads), 10_000);
        if (!got.equals(expected(bytes, reads))) t.fail('wrong bytes');
        seen.ok++;
      } catch (err) {
        const code = nativeErrorCode(err) ?? `uncoded: ${String(err)}`;
        seen.codes.set(code, (seen.codes.get(code) ?? 0) + 1);
      }
    }
  });
  await new Promise((res) => setTimeout(res, 300));
  t.deepEqual(await server.request({ op: 'release', index: 0 }), { ok: true });
  await new Promise((res) => setTimeout(res, 300));
  stop = true;
  await Promise.all(readers);
  t.log(`ok ${seen.ok}, rejected ${JSON.stringify([...seen.codes])}`);
  t.true(seen.ok > 0);
  t.true((seen.codes.get('NOT_FOUND') ?? 0) > 0);
  for (const code of seen.codes.keys()) t.false(code.startsWith('uncoded'), code);
  t.is((await server.request({ op: 'ping' }))['ok'], true, 'the server process is still up');
  t.is(server.proc.exitCode, null);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});
