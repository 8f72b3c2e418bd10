// Shared pieces of the shufflectl tests: run the real command (the built
// dist/shuffle-client/src/cli/main.js) as a child process, push real shuffle
// data through the TypeScript client, and find a closed port.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../../../shuffle-client/src/connection.js';
import { registerShuffle } from '../../../shuffle-client/src/control.js';
import { ShuffleWriter } from '../../../shuffle-client/src/writer.js';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shuffle-client', 'src', 'cli', 'main.js');

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function ctl(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CtlResult> {
  return new Promise((resolve) => {
    // PEGASUS_ADMIN_TOKEN from the test runner's environment must not leak into a test's expectations.
    const childEnv = { ...process.env, PEGASUS_ADMIN_TOKEN: '', ...env };
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, env: childEnv }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parses a --json answer, failing with the output when it is not JSON. */
export function parsed<T = Record<string, unknown>>(r: CtlResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

export interface PushSpec {
  appId: string;
  shuffleId: number;
  numMaps?: number;
  numPartitions?: number;
  recordsPerMap?: number;
}

/** Registers a shuffle and writes and commits every map through ShuffleWriter. Returns the stored bytes. */
export async function pushShuffle(address: string, spec: PushSpec): Promise<number> {
  const numMaps = spec.numMaps ?? 2;
  const numPartitions = spec.numPartitions ?? 4;
  const conn = await Connection.connect(address);
  try {
    await registerShuffle(conn, { appId: spec.appId, shuffleId: spec.shuffleId, numMaps, numPartitions });
    let bytes = 0;
    for (let map = 0; map < numMaps; map++) {
      const w = new ShuffleWriter({
        connection: conn, appId: spec.appId, shuffleId: spec.shuffleId, mapId: map, attempt: 0, numPartitions,
        options: { blockBytes: 4096 },
      });
      for (let i = 0; i < (spec.recordsPerMap ?? 500); i++) {
        const wait = w.write(i % numPartitions, Buffer.from(`m${map}-r${i}-`.padEnd(60, 'x')));
        if (wait !== undefined) await wait;
      }
      bytes += (await w.close()).bytesWritten;
    }
    return bytes;
  } finally {
    await conn.close();
  }
}

/** An address nothing listens on: a port bound and closed again. */
export async function closedAddress(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
