// A UcxClient in its own process that reads one region in a loop until killed, so
// tests can kill a client in the middle of its gets. Started as
// `node ucx-reader.js '<json {port, address, rkey (hex), length, workerAddress? (hex)}>'`
// (with workerAddress it connects by worker address, else to the listener); prints
// {"ready":true} once connected and {"gets":n} every 10 gets.
import { nativeBinding } from '../../ts/index.js';

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]!) as { port: number; address: string; rkey: string; length: number; workerAddress?: string };
  const { UcxClient } = nativeBinding()!;
  const client =
    cfg.workerAddress !== undefined
      ? await UcxClient.connectAddress(Buffer.from(cfg.workerAddress, 'hex'), 10_000)
      : await UcxClient.connect('127.0.0.1', cfg.port, 10_000);
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const read = { remoteAddress: BigInt(cfg.address), rkey: Buffer.from(cfg.rkey, 'hex'), length: cfg.length };
  for (let n = 1; ; n++) {
    await client.get([read, read, read, read], 30_000);
    if (n % 10 === 0) process.stdout.write(JSON.stringify({ gets: n }) + '\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ucx-reader helper failed: ${String(err)}\n`);
  process.exit(1);
});
