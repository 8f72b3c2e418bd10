// The main job (npm start): start a server with the embedded defaults
// (127.0.0.1:9527, data under ./data), run a sample shuffle against it, read
// every partition back and check it against what was written.
//
// The sample: 8 map tasks write 1 GiB of records (lz4-compressed blocks) into
// 400 partitions; map 3 runs twice as competing attempts (a speculative
// duplicate) with different contents, and only the attempt that commits first
// may be read back. Each partition's records are checked as a multiset (count,
// sum and xor of per-record CRC32C) against the winning attempts' records.
import { spawn, type ChildProcess } from 'node:child_process';
import { crc32c } from '../native/ts/crc32c.js';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../shuffle-client/src/connection.js';
import { registerShuffle, unregisterShuffle } from '../shuffle-client/src/control.js';
import { ShuffleReader, type ReadTransport } from '../shuffle-client/src/reader.js';
import { ShuffleWriter, type CommitResult } from '../shuffle-client/src/writer.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAPS = 8;
const PARTITIONS = 400;
const BYTES_PER_MAP = 128 * 1024 * 1024;
const DUPLICATE_MAP = 3;
const READERS = 4;
const MAP_CONCURRENCY = 3;
const GiB = 1024 * 1024 * 1024;

/** Per-partition multiset digest of records: count, sum and xor of CRC32C. */
class Digest {
  readonly count = new Float64Array(PARTITIONS);
  readonly sum = new Float64Array(PARTITIONS);
  readonly xor = new Uint32Array(PARTITIONS);

  add(partition: number, record: Uint8Array): void {
    const c = crc32c(record);
    this.count[partition]! += 1;
    this.sum[partition]! += c;
    this.xor[partition]! ^= c;
  }

  merge(o: Digest): void {
    for (let p = 0; p < PARTITIONS; p++) {
      this.count[p]! += o.count[p]!;
      this.sum[p]! += o.sum[p]!;
      this.xor[p]! ^= o.xor[p]!;
    }
  }

  equalAt(o: Digest, p: number): boolean {
    return this.count[p] === o.count[p] && this.sum[p] === o.sum[p] && this.xor[p] === o.xor[p];
  }
}

/** Pseudo-text the records are cut from, so lz4 has something to do. */
function textPool(bytes: number): Buffer {
  const words = ['shuffle', 'partition', 'map', 'reduce', 'spark', 'flink', 'segment', 'index', 'commit', 'attempt', 'block', 'record', 'pegasus', 'node', 'stream', 'merge'];
  const out = Buffer.allocUnsafe(bytes);
  let x = 12345;
  let pos = 0;
  while (pos < bytes) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const w = `${words[x % words.length]!}${x % 7 === 0 ? String(x % 1000) : ''} `;
    pos += out.write(w, pos);
  }
  return out;
}

async function writeMap(address: string, appId: string, mapId: number, attempt: number, pool: Buffer): Promise<{ result: CommitResult; digest: Digest; rawBytes: number; records: number }> {
  const connection = await Connection.connect(address);
  const writer = new ShuffleWriter({ connection, appId, shuffleId: 0, mapId, attempt, numPartitions: PARTITIONS, options: { codec: 'lz4' } });
  const digest = new Digest();
  const record = Buffer.allocUnsafe(16 + 512);
  let rawBytes = 0;
  let records = 0;
  let x = (mapId * 2654435761 + attempt * 40503 + 1) >>> 0;
  while (rawBytes < BYTES_PER_MAP) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const partition = x % PARTITIONS;
    const len = 16 + 48 + (x >>> 23);
    record.writeUInt32LE(mapId, 0);
    record.writeUInt32LE(attempt, 4);
    record.writeUInt32LE(records, 8);
    record.writeUInt32LE(partition, 12);
    pool.copy(record, 16, (x >>> 8) % (pool.length - 512), ((x >>> 8) % (pool.length - 512)) + len - 16);
    const r = record.subarray(0, len);
    digest.add(partition, r);
    const wait = writer.write(partition, r);
    if (wait !== undefined) await wait;
    rawBytes += len;
    records++;
  }
  const result = await writer.close();
  await connection.close();
  return { result, digest, rawBytes, records };
}

async function readAll(address: string, appId: string, transport: ReadTransport): Promise<{ digest: Digest; bytes: number; records: number }> {
  const digest = new Digest();
  let bytes = 0;
  let records = 0;
  const per = Math.ceil(PARTITIONS / READERS);
  await Promise.all(Array.from({ length: READERS }, async (_, i) => {
    const connection = await Connection.connect(address);
    const reader = new ShuffleReader({
      connection, appId, shuffleId: 0, partitionStart: Math.min(i * per, PARTITIONS), partitionEnd: Math.min((i + 1) * per, PARTITIONS), mapStart: 0, mapEnd: MAPS,
      options: { transport },
    });
    for await (const { partition, record } of reader.records()) {
      digest.add(partition, record);
      bytes += record.length;
      records++;
    }
    await connection.close();
  }));
  return { digest, bytes, records };
}

async function startServer(dataDir: string): Promise<{ proc: ChildProcess; address: string }> {
  mkdirSync(dataDir, { recursive: true });
  const log = createWriteStream(join(dataDir, 'server.log'), { flags: 'a' });
  const proc = spawn(process.execPath, [join(repo, 'dist', 'shuffle-server', 'src', 'main.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr!.pipe(log);
  const address = await new Promise<string>((resolveAddr, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { event?: string; host?: string; port?: number };
      if (m.event === 'listening') resolveAddr(`${m.host!}:${m.port!}`);
    });
    proc.once('exit', (code) => reject(new Error(`pegasus-server exited with ${code} before listening; see ${join(dataDir, 'server.log')} (is port 9527 taken?)`)));
  });
  return { proc, address };
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
const gib = (bytes: number): string => (bytes / GiB).toFixed(2);

async function main(): Promise<void> {
  const dataDir = resolve('data');
  const { proc, address } = await startServer(dataDir);
  console.log(`pegasus-server listening on ${address}, data in ${dataDir} (log: data/server.log)`);
  const appId = `demo-${Date.now()}`;
  let ok = false;
  try {
    const control = await Connection.connect(address);
    await registerShuffle(control, { appId, shuffleId: 0, numMaps: MAPS, numPartitions: PARTITIONS });
    console.log(`sample shuffle ${appId}/0: ${MAPS} map tasks, ${PARTITIONS} partitions, ${gib(MAPS * BYTES_PER_MAP)} GiB of records, map ${DUPLICATE_MAP} run twice as competing attempts`);
    const pool = textPool(4 * 1024 * 1024);
    // Map 3's two attempts run side by side; the rest follow a few at a time.
    const tasks: Array<{ mapId: number; attempt: number }> = [{ mapId: DUPLICATE_MAP, attempt: 0 }, { mapId: DUPLICATE_MAP, attempt: 1 }];
    for (let m = 0; m < MAPS; m++) if (m !== DUPLICATE_MAP) tasks.push({ mapId: m, attempt: 0 });
    const outcomes: Array<{ mapId: number; attempt: number; result: CommitResult; digest: Digest; rawBytes: number; records: number }> = [];
    const t0 = process.hrtime.bigint();
    const queue = [...tasks];
    await Promise.all(Array.from({ length: MAP_CONCURRENCY }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        outcomes.push({ ...t, ...(await writeMap(address, appId, t.mapId, t.attempt, pool)) });
      }
    }));
    const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const winners = outcomes.filter((o) => o.result.won);
    const losers = outcomes.filter((o) => !o.result.won);
    const expected = new Digest();
    for (const w of winners) expected.merge(w.digest);
    const raw = outcomes.reduce((n, o) => n + o.rawBytes, 0);
    const stored = outcomes.reduce((n, o) => n + o.result.bytesWritten, 0);
    const records = outcomes.reduce((n, o) => n + o.records, 0);
    console.log(`wrote ${gib(raw)} GiB raw in ${records} records from ${outcomes.length} attempts, ${gib(stored)} GiB after lz4, in ${writeSeconds.toFixed(1)} s: ${mb(raw / writeSeconds)} MB/s raw, every map committed durably`);
    for (const o of outcomes.filter((x) => x.mapId === DUPLICATE_MAP)) {
      console.log(`  map ${DUPLICATE_MAP} attempt ${o.attempt}: ${o.result.won ? 'won the commit' : `lost to attempt ${o.result.winnerAttempt}; its output is never served`}`);
    }
    if (winners.length !== MAPS || losers.length !== 1) throw new Error(`expected ${MAPS} winners and 1 loser, got ${winners.length} and ${losers.length}`);
    const transports: Array<[ReadTransport, string]> = [['websocket', 'over WebSocket']];
    if (control.ucxPort > 0) transports.push(['ucx', `over UCX (one-sided gets from port ${control.ucxPort}; over TCP here, RDMA where the hardware has it)`]);
    else console.log('UCX read path unavailable on this server (see /healthz); reading over WebSocket only');
    ok = true;
    for (const [transport, how] of transports) {
      const t1 = process.hrtime.bigint();
      const read = await readAll(address, appId, transport);
      const readSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
      console.log(`read back ${gib(read.bytes)} GiB in ${read.records} records ${how} with ${READERS} readers in ${readSeconds.toFixed(1)} s: ${mb(read.bytes / readSeconds)} MB/s, every block's CRC32C checked`);
      let matched = 0;
      for (let p = 0; p < PARTITIONS; p++) if (expected.equalAt(read.digest, p)) matched++;
      ok &&= matched === PARTITIONS;
      console.log(matched === PARTITIONS
        ? `verified: ${matched} of ${PARTITIONS} partitions match what the winning attempts wrote (record counts and checksums), nothing from the losing attempt`
        : `MISMATCH: only ${matched} of ${PARTITIONS} partitions match what was written`);
    }
    await unregisterShuffle(control, appId, 0);
    await control.close();
    console.log(`removed the sample shuffle; stopping the server`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  if (!ok) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
