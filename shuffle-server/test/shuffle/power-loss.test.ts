// commitDurability process acknowledges a commit once its bytes are with the
// operating system. A power loss can then take bytes the catalog already
// names. These tests do to the files what such a loss can leave (a segment cut
// short; a stretch of a segment that never reached the disk, read back as
// zeros) and check that the restarted server reports the loss with a code and
// never serves the lost bytes as data, while other shuffles are unharmed.
import test from 'ava';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import type { Frame } from '../../../schemas/ts/messages.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { httpGet, killServer, makeDataDir, removeDir, startServer, stopServer } from '../helpers/server-process.js';

const PROCESS = ['--commit-durability', 'process'];

/** Writes and commits two maps of shuffle `shuffleId`, 4 partitions of `bytes` each; returns what was written. */
async function writeShuffle(address: string, appId: string, shuffleId: number, bytes: number): Promise<Buffer[]> {
  const c = await RawClient.connect(address);
  try {
    const reg = await c.request({ type: 'RegisterShuffle', appId, shuffleId, numMaps: 2, numPartitions: 4 });
    if (reg.message.type !== 'Ack') throw new Error(JSON.stringify(reg.message));
    const parts: Buffer[] = [];
    for (let mapId = 0; mapId < 2; mapId++) {
      const data = [0, 1, 2, 3].map((p) => Buffer.alloc(bytes, 1 + mapId * 4 + p));
      parts.push(...data);
      const push = makePush(appId, shuffleId, mapId, 0, 0, data.map((d, partition) => ({ partition, data: d })));
      const ack = await c.request(push.message, push.body);
      if (ack.message.type !== 'Ack') throw new Error(JSON.stringify(ack.message));
      const commit = await c.request({ type: 'CommitMap', appId, shuffleId, mapId, attempt: 0, batchCount: 1 });
      if (commit.message.type !== 'CommitAck') throw new Error(JSON.stringify(commit.message));
    }
    return parts;
  } finally {
    c.close();
  }
}

/** Reads partitions [0, 4) of a shuffle; returns the bytes, or the error code that ended the read. */
async function readAll(address: string, appId: string, shuffleId: number): Promise<{ data: Buffer } | { code: ErrorCode }> {
  const c = await RawClient.connect(address);
  try {
    c.sendRaw(encodeFrame(9, { type: 'OpenRead', appId, shuffleId, partitionStart: 0, partitionEnd: 4, mapStart: 0, mapEnd: 2, creditBytes: 1 << 26 }));
    const parts: Buffer[] = [];
    for (;;) {
      const f: Frame | null = await c.next(30_000);
      if (f === null) throw new Error('connection closed during the read');
      if (f.message.type === 'ReadData') parts.push(f.body);
      else if (f.message.type === 'ReadEnd') return { data: Buffer.concat(parts) };
      else if (f.message.type === 'Error') return { code: f.message.code };
    }
  } finally {
    c.close();
  }
}

async function segmentsOf(dataDir: string, appId: string, shuffleId: number): Promise<string[]> {
  const dir = join(dataDir, 'shuffles', appId, String(shuffleId));
  return (await fsp.readdir(dir)).filter((n) => n.endsWith('.seg')).sort().map((n) => join(dir, n));
}

test('PowerLossCutsASegment: a segment shorter than its catalog row is reported, its shuffle not served, others intact', async (t) => {
  const dataDir = await makeDataDir();
  t.teardown(() => removeDir(dataDir));
  let s = await startServer({ dataDir, args: PROCESS });
  const kept = await writeShuffle(s.address, 'loss-app', 1, 64 * 1024);
  await writeShuffle(s.address, 'loss-app', 2, 64 * 1024);
  await killServer(s);
  // The page cache never reached the disk for the tail of shuffle 2's segment.
  const [seg] = await segmentsOf(dataDir, 'loss-app', 2);
  const { size } = await fsp.stat(seg!);
  await fsp.truncate(seg!, Math.floor(size / 2));

  s = await startServer({ dataDir, args: PROCESS });
  t.teardown(() => stopServer(s));
  const lost = await readAll(s.address, 'loss-app', 2);
  t.deepEqual(lost, { code: ErrorCode.UNKNOWN_SHUFFLE }, 'the shuffle with lost bytes is reported missing, so the engine recomputes it');
  const metrics = (await httpGet(s.address, '/metrics')).body;
  t.regex(metrics, /^pegasus_recovery_failures_total 1$/m);
  const other = await readAll(s.address, 'loss-app', 1);
  // Read order: partition by partition, each partition's blocks in stored (map) order.
  const expected = [0, 1, 2, 3].flatMap((p) => [kept[p]!, kept[4 + p]!]);
  t.deepEqual(other, { data: Buffer.concat(expected) });
});

test('PowerLossZeroesBytes: a stretch of a segment read back as zeros fails every read of it with a code, never as data', async (t) => {
  const dataDir = await makeDataDir();
  t.teardown(() => removeDir(dataDir));
  let s = await startServer({ dataDir, args: PROCESS });
  await writeShuffle(s.address, 'zero-app', 1, 256 * 1024);
  await killServer(s);
  // A page in the middle of the data (not of any header) never reached the disk.
  const [seg] = await segmentsOf(dataDir, 'zero-app', 1);
  const fh = await fsp.open(seg!, 'r+');
  try {
    const { size } = await fh.stat();
    await fh.write(Buffer.alloc(4096), 0, 4096, Math.floor(size / 2));
  } finally {
    await fh.close();
  }

  s = await startServer({ dataDir, args: PROCESS });
  t.teardown(() => stopServer(s));
  const read = await readAll(s.address, 'zero-app', 1);
  t.false('data' in read, 'no data served');
  if ('code' in read) t.true([ErrorCode.CHECKSUM_MISMATCH, ErrorCode.CORRUPT_DATA].includes(read.code), ErrorCode[read.code]);
  const verify = await fetch(`http://${s.address}/api/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"app":"zero-app"}' });
  const result = (await verify.json()) as { errors: Array<{ code: string }> };
  t.true(result.errors.length > 0, JSON.stringify(result));
});
