// Setup shared by the UCX test files: starting server processes (killed after the
// file's tests), connecting a client by listener or by worker address, starting a
// reader child process, and the error code of a native call.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nativeBinding, nativeErrorCode } from '../../ts/index.js';
import { startServerProcess, type ServerProcess } from './ucx-child.js';

type Client = import('../../binding.cjs').UcxClient;

export type Serve = (
  files: Array<{ path: string; bytes: Buffer }>,
  opts?: { port?: number; env?: Record<string, string> },
) => Promise<ServerProcess>;
export type Connect = (server: ServerProcess) => Promise<Client>;
/** How a client makes its endpoint: to the server's listener, or from its worker address. */
export type Via = 'listener' | 'address';

// The binding is looked up on each connect, not at import: the TCP test files set
// UCX_TLS in their body, which runs after their imports.
export const connectBy: Record<Via, Connect> = {
  listener: (s) => nativeBinding()!.UcxClient.connect('127.0.0.1', s.port, 10_000),
  address: (s) => nativeBinding()!.UcxClient.connectAddress(s.workerAddress, 10_000),
};

/**
 * The Serve of a test file: starts server processes with `env` (over the test's own
 * environment and under a call's) and kills them all after the file's tests.
 */
export function serverProcesses(env: Record<string, string> = {}): Serve {
  const servers: ServerProcess[] = [];
  test.after.always(async () => {
    for (const s of servers) await s.kill();
  });
  return async (files, opts = {}) => {
    const s = await startServerProcess({
      files: files.map((f) => ({ path: f.path, length: f.bytes.length })),
      port: opts.port,
      env: { ...env, ...opts.env },
    });
    servers.push(s);
    return s;
  };
}

const READER = join(dirname(fileURLToPath(import.meta.url)), 'ucx-reader.js');

/**
 * A ucx-reader.ts child process reading `length` bytes of the server's first region
 * in a loop, connected `via` the listener or the worker address. `reading` resolves
 * once it has done gets, and rejects if it exits before.
 */
export function spawnReader(
  server: ServerProcess,
  via: Via,
  opts: { length: number; stderr?: 'inherit' | 'pipe'; env?: Record<string, string> },
): { proc: ChildProcess; reading: Promise<void> } {
  const r = server.regions[0]!;
  const arg = JSON.stringify({
    port: server.port,
    ...(via === 'address' ? { workerAddress: server.workerAddress.toString('hex') } : {}),
    address: r.address.toString(),
    rkey: r.rkey.toString('hex'),
    length: opts.length,
  });
  const proc = spawn(process.execPath, [READER, arg], {
    stdio: ['ignore', 'pipe', opts.stderr ?? 'inherit'],
    env: { ...process.env, ...opts.env },
  });
  const reading = new Promise<void>((res, rej) => {
    proc.stdout!.on('data', (d: Buffer) => d.toString().includes('"gets"') && res());
    proc.once('exit', (code) => rej(new Error(`reader exited early (${code})`)));
  });
  return { proc, reading };
}

/** The code a native call was rejected with (null if none), or 'resolved'. */
export async function codeOf(p: Promise<unknown>): Promise<string | null | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return nativeErrorCode(err);
  }
}
