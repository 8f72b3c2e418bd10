// Throughput of one UcxClient reading a 256 MiB registered file in 4 MiB gets from
// a UcxServer in another process, over a listener endpoint (connect) and over a
// worker address endpoint (connectAddress), against two baselines measured in the
// same run: memory copy and loopback TCP (Node sockets). Not a test; run after `npx tsc`:
//   node dist/native/test/helpers/ucx-bench.js            (default transports)
//   UCX_TLS=tcp node dist/native/test/helpers/ucx-bench.js
// UCX_TLS (if set) is passed to the server process too.
import { createServer, connect } from 'node:net';
import { rmSync } from 'node:fs';

import { nativeBinding } from '../../ts/index.js';
import { randomFiles, startServerProcess } from './ucx-child.js';

type Client = import('../../binding.cjs').UcxClient;

const MiB = 1 << 20;
const FILE_BYTES = 256 * MiB;
const GET_BYTES = 4 * MiB;
const ROUNDS = 3;

function mbps(bytes: number, ms: number): number {
  return Math.round(bytes / MiB / (ms / 1000));
}

async function tcpLoopback(bytes: number): Promise<number> {
  const chunk = Buffer.alloc(GET_BYTES, 1);
  return new Promise((resolve) => {
    const server = createServer((sock) => {
      let got = 0;
      sock.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= bytes) {
          const ms = performance.now() - start;
          sock.destroy();
          server.close();
          resolve(mbps(bytes, ms));
        }
      });
    });
    let start = 0;
    server.listen(0, '127.0.0.1', () => {
      const c = connect((server.address() as { port: number }).port, '127.0.0.1', () => {
        start = performance.now();
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
        };
        pump();
      });
      c.on('error', () => {});
    });
  });
}

async function main(): Promise<void> {
  const b = nativeBinding()!;
  const { dir, files } = randomFiles([FILE_BYTES]);
  const env: Record<string, string> = {};
  if (process.env['UCX_TLS'] !== undefined) env['UCX_TLS'] = process.env['UCX_TLS'];
  const server = await startServerProcess({ files: [{ path: files[0]!.path, length: FILE_BYTES }], env });
  const r = server.regions[0]!;
  const gets = FILE_BYTES / GET_BYTES;
  const results: Record<string, number | string> = {};
  const endpoints: Array<[string, () => Promise<Client>]> = [
    ['listener', () => b.UcxClient.connect('127.0.0.1', server.port, 10_000)],
    ['address', () => b.UcxClient.connectAddress(server.workerAddress, 10_000)],
  ];
  for (const [name, connectClient] of endpoints) {
    const client = await connectClient();
    const read = (i: number) => client.get([{ remoteAddress: r.address + BigInt(i * GET_BYTES), rkey: r.rkey, length: GET_BYTES }], 30_000);
    for (let i = 0; i < gets; i++) await read(i); // warm-up: page cache, rkey cache
    for (const depth of [1, 4]) {
      let best = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: depth }, async () => {
            while (next < gets) await read(next++);
          }),
        );
        best = Math.max(best, mbps(FILE_BYTES, performance.now() - t0));
      }
      results[`ucx_${name}_get_4MiB_depth${depth}_MBps`] = best;
    }
    results[`ucx_${name}_lanes`] = client.transports();
    await client.close();
  }
  const src = files[0]!.bytes;
  const dst = Buffer.allocUnsafe(FILE_BYTES);
  let memcpy = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    src.copy(dst);
    memcpy = Math.max(memcpy, mbps(FILE_BYTES, performance.now() - t0));
  }
  const tcp = await tcpLoopback(FILE_BYTES);
  await server.kill();
  rmSync(dir, { recursive: true, force: true });
  const n = (k: string) => results[k] as number;
  const out = {
    ucx_tls: process.env['UCX_TLS'] ?? '(default)',
    ...results,
    memcpy_MBps: memcpy,
    node_tcp_loopback_MBps: tcp,
    ratio_listener_depth1_to_tcp_loopback: +(n('ucx_listener_get_4MiB_depth1_MBps') / tcp).toFixed(2),
    ratio_address_depth1_to_tcp_loopback: +(n('ucx_address_get_4MiB_depth1_MBps') / tcp).toFixed(2),
    ratio_address_depth1_to_listener_depth1: +(n('ucx_address_get_4MiB_depth1_MBps') / n('ucx_listener_get_4MiB_depth1_MBps')).toFixed(2),
    ratio_address_depth4_to_memcpy: +(n('ucx_address_get_4MiB_depth4_MBps') / memcpy).toFixed(3),
  };
  console.log(JSON.stringify(out, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
