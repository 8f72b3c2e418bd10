// A UcxServer in its own process, for tests that need the client and the server
// in different processes (so UCX uses inter-process transports, and so the server
// can be SIGKILLed). Started as `node ucx-server.js '<json config>'`.
//
// Config: { host, port, files: [{ path, length }] }.
// Prints one JSON line when ready: { port, pid, workerAddress, regions: [{ path, address, length, rkey }] }
// (address as a decimal string, rkey and workerAddress as hex). Then reads JSON commands, one a line,
// on stdin and answers each with one JSON line:
//   { op: 'ping' }                      -> { ok: true, stats }
//   { op: 'release', index }            -> { ok: true }
//   { op: 'register', path, length }    -> { ok: true, region } or { ok: false, code }
//   { op: 'close' }                     -> { ok: true } (server closed, process stays up)
//   { op: 'exit' }                      -> exits 0
import { createInterface } from 'node:readline';

import { nativeBinding, nativeErrorCode } from '../../ts/index.js';

interface Config {
  host: string;
  port: number;
  files: Array<{ path: string; length: number }>;
}

type Region = import('../../binding.cjs').UcxRegion;

function describe(path: string, r: Region): Record<string, unknown> {
  return { path, address: r.address.toString(), length: r.length, rkey: r.rkey.toString('hex') };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as Config;
  const b = nativeBinding();
  if (b === null) throw new Error('native module not loaded');
  const server = await b.UcxServer.start(config.host, config.port);
  const regions: Region[] = [];
  const described: Array<Record<string, unknown>> = [];
  for (const f of config.files) {
    const r = await server.register(f.path, f.length);
    regions.push(r);
    described.push(describe(f.path, r));
  }
  const workerAddress = server.workerAddress().toString('hex');
  process.stdout.write(JSON.stringify({ port: server.port, pid: process.pid, workerAddress, regions: described }) + '\n');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const cmd = JSON.parse(line) as { op: string; index?: number; path?: string; length?: number };
    let answer: Record<string, unknown>;
    try {
      switch (cmd.op) {
        case 'ping':
          answer = { ok: true, stats: server.stats() };
          break;
        case 'release':
          await regions[cmd.index!]!.release();
          answer = { ok: true };
          break;
        case 'register': {
          const r = await server.register(cmd.path!, cmd.length!);
          regions.push(r);
          answer = { ok: true, region: describe(cmd.path!, r) };
          break;
        }
        case 'close':
          await server.close();
          answer = { ok: true };
          break;
        case 'exit':
          process.exit(0);
        default:
          answer = { ok: false, code: 'UNKNOWN_COMMAND' };
      }
    } catch (err) {
      answer = { ok: false, code: nativeErrorCode(err), message: String(err) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`ucx-server helper failed: ${String(err)}\n`);
  process.exit(1);
});
