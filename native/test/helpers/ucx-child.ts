// Test side of ucx-server.ts: starts the helper in a child process, waits for its
// ready line, and sends it commands.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// UCX's memory event hooks crash about 1 % of Node processes at UCX start (UCX.md
// "Known crash"); the setting is read when libucs loads, so it is set here, at
// import time, before any test loads the native module, and child processes
// inherit it. Mirrors the fix proposed for native/ts/index.ts; an explicit
// UCX_MEM_EVENTS in the environment wins (set it to y to reproduce the crash).
process.env['UCX_MEM_EVENTS'] ??= 'no';

export interface RegionInfo {
  path: string;
  address: bigint;
  length: number;
  rkey: Buffer;
}

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  pid: number;
  /** UcxServer.workerAddress() of the server, for UcxClient.connectAddress. */
  workerAddress: Buffer;
  regions: RegionInfo[];
  /** Sends one command and resolves with the helper's answer. */
  request(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Everything the helper wrote to stderr so far. */
  stderr(): string;
  /** Non-protocol stdout lines (UCX's own log) so far. */
  stdout(): string;
}

const HELPER = join(dirname(fileURLToPath(import.meta.url)), 'ucx-server.js');

function region(r: { path: string; address: string; length: number; rkey: string }): RegionInfo {
  return { path: r.path, address: BigInt(r.address), length: r.length, rkey: Buffer.from(r.rkey, 'hex') };
}

export async function startServerProcess(opts: {
  files: Array<{ path: string; length: number }>;
  port?: number;
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  const config = { host: '127.0.0.1', port: opts.port ?? 0, files: opts.files };
  const proc = spawn(process.execPath, [HELPER, JSON.stringify(config)], {
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines: Interface = createInterface({ input: proc.stdout! });
  const waiting: Array<(line: string) => void> = [];
  const queued: string[] = [];
  let out = '';
  lines.on('line', (l) => {
    // UCX writes its own log lines to stdout; protocol lines are JSON objects.
    if (!l.startsWith('{')) {
      out += l + '\n';
      return;
    }
    const w = waiting.shift();
    if (w) w(l);
    else queued.push(l);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const q = queued.shift();
      if (q !== undefined) return resolve(q);
      waiting.push(resolve);
      void exited.then(() => reject(new Error(`ucx-server helper exited; stdout: ${out} stderr: ${err}`)));
    });
  const ready = JSON.parse(await nextLine()) as {
    port: number;
    pid: number;
    workerAddress: string;
    regions: Array<{ path: string; address: string; length: number; rkey: string }>;
  };
  return {
    proc,
    port: ready.port,
    pid: ready.pid,
    workerAddress: Buffer.from(ready.workerAddress, 'hex'),
    regions: ready.regions.map(region),
    async request(cmd) {
      proc.stdin!.write(JSON.stringify(cmd) + '\n');
      const a = JSON.parse(await nextLine()) as Record<string, unknown>;
      if (a['region'] !== undefined) a['region'] = region(a['region'] as never);
      return a;
    },
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    stderr: () => err,
    stdout: () => out,
  };
}

/** A temporary directory with files of random bytes; returns their paths and contents. */
export function randomFiles(sizes: number[]): { dir: string; files: Array<{ path: string; bytes: Buffer }> } {
  const dir = mkdtempSync(join(tmpdir(), 'pegasus-ucx-'));
  const files = sizes.map((size, i) => {
    const path = join(dir, `segment-${String(i).padStart(4, '0')}.bin`);
    const bytes = randomBytes(size);
    writeFileSync(path, bytes);
    return { path, bytes };
  });
  return { dir, files };
}

/** A deterministic pseudo-random generator (xorshift32), so failures replay. */
export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}
