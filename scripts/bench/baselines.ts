// Physical baselines measured in the same run as the Pegasus numbers, so that
// every result is a ratio against this machine, never a bare time.
import { spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';

const MiB = 1024 * 1024;

/**
 * Sequential write of `bytes` in 4 MiB writes, then fdatasync; MB/s (10^6 bytes).
 * With `syncEveryBytes`, also an fdatasync after every that many bytes: the way
 * a server that syncs each group commit could best write (large sequential
 * writes, synced at commit-sized intervals).
 */
export function diskWriteMBps(dir: string, bytes: number, syncEveryBytes = 0): number {
  const chunk = randomFillSync(Buffer.allocUnsafe(4 * MiB));
  const path = join(dir, `baseline-${process.pid}.bin`);
  const fd = openSync(path, 'w');
  const start = process.hrtime.bigint();
  try {
    let sinceSync = 0;
    for (let written = 0; written < bytes; written += chunk.length) {
      writeSync(fd, chunk);
      sinceSync += chunk.length;
      if (syncEveryBytes > 0 && sinceSync >= syncEveryBytes) {
        fdatasyncSync(fd);
        sinceSync = 0;
      }
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  unlinkSync(path);
  return bytes / 1e6 / seconds;
}

const SINK = `
const net = require('node:net');
const total = Number(process.argv[1]);
const srv = net.createServer((s) => {
  let got = 0;
  s.on('data', (d) => { got += d.length; if (got >= total) { s.end('k'); srv.close(); } });
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(String(srv.address().port) + '\\n'));
`;

/** Loopback TCP from this process to a sink in another process, 1 MiB writes; MB/s. */
export async function loopbackMBps(bytes: number): Promise<number> {
  const sink = spawn(process.execPath, ['-e', SINK, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    sink.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    sink.once('exit', (code) => reject(new Error(`loopback sink exited with ${code}`)));
  });
  const chunk = randomFillSync(Buffer.allocUnsafe(MiB));
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!sock.write(chunk)) {
          sock.once('drain', pump);
          return;
        }
      }
    };
    sock.once('connect', pump);
    sock.once('data', () => {
      sock.destroy();
      resolve();
    });
    sock.once('error', reject);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  sink.kill();
  return bytes / 1e6 / seconds;
}
