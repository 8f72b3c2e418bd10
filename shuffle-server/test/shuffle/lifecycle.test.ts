// Cleanup, expiry, graceful stop and flow control, each against a real server.
import test from 'ava';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { httpGet, removeDir, startServer, stopServer } from '../helpers/server-process.js';
import { checkRead, makeBatch, pushBatch, readRange, rng, type ModelBlock } from '../helpers/shuffle-model.js';

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

async function writeCommitted(c: RawClient, appId: string, shuffleId: number, mapId: number, batches: number, numPartitions: number): Promise<ModelBlock[]> {
  const r = rng(mapId + 100 * shuffleId);
  const blocks: ModelBlock[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = makeBatch(r, mapId, 1, b, numPartitions, 6, 200_000);
    await pushBatch(c, appId, shuffleId, batch);
    blocks.push(...batch);
  }
  const f = await c.request({ type: 'CommitMap', appId, shuffleId, mapId, attempt: 1, batchCount: batches });
  if (f.message.type !== 'CommitAck' || !f.message.won) throw new Error(`commit failed: ${JSON.stringify(f.message)}`);
  return blocks;
}

function errorCode(m: { type: string; code?: ErrorCode }): ErrorCode | string {
  return m.type === 'Error' ? m.code! : m.type;
}

test('unregistering a shuffle removes its files and index entries and gives the disk space back', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    for (const id of [1, 2]) await c.request({ type: 'RegisterShuffle', appId: 'app-clean', shuffleId: id, numMaps: 2, numPartitions: 8 });
    await writeCommitted(c, 'app-clean', 1, 0, 5, 8);
    const kept = await writeCommitted(c, 'app-clean', 2, 0, 2, 8);
    const shuffleDir = join(s.dataDir, 'shuffles', 'app-clean', '1');
    const before = dirBytes(shuffleDir);
    t.true(before > 500_000, `shuffle 1 holds ${before} bytes`);
    t.is((await c.request({ type: 'UnregisterShuffle', appId: 'app-clean', shuffleId: 1 })).message.type, 'Ack');
    t.false(existsSync(shuffleDir));
    const read = await c.request({ type: 'OpenRead', appId: 'app-clean', shuffleId: 1, partitionStart: 0, partitionEnd: 8, mapStart: 0, mapEnd: 2, creditBytes: 1 << 20 });
    t.is(errorCode(read.message), ErrorCode.UNKNOWN_SHUFFLE);
    // Unregistering again is idempotent; the other shuffle is untouched.
    t.is((await c.request({ type: 'UnregisterShuffle', appId: 'app-clean', shuffleId: 1 })).message.type, 'Ack');
    t.is(checkRead(await readRange(c, 'app-clean', 2, 0, 8, 0, 2), kept), null);
    // Removing the application removes everything of it.
    t.is((await c.request({ type: 'UnregisterApp', appId: 'app-clean' })).message.type, 'Ack');
    t.false(existsSync(join(s.dataDir, 'shuffles', 'app-clean')));
    const metrics = (await httpGet(s.address, '/metrics')).body;
    t.regex(metrics, /^pegasus_disk_used_bytes 0$/m);
    t.regex(metrics, /^pegasus_shuffles 0$/m);
    c.close();
    // After a restart the removed shuffles stay removed.
    await stopServer(s);
    const s2 = await startServer({ dataDir: s.dataDir });
    const c2 = await RawClient.connect(s2.address);
    const f = await c2.request({ type: 'OpenRead', appId: 'app-clean', shuffleId: 2, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1024 });
    t.is(errorCode(f.message), ErrorCode.UNKNOWN_APP);
    c2.close();
    await stopServer(s2);
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('an application that stops heart-beating expires with its shuffles; one that heart-beats stays', async (t) => {
  // The alive app heart-beats every 100 ms against a 5 s expiry (a 50x margin
  // for a loaded machine); the test waits for the silent app's expiry itself,
  // not for a fixed time.
  const s = await startServer({ args: ['--app-expiry-ms', '5000', '--expiry-check-interval-ms', '200'] });
  try {
    const c = await RawClient.connect(s.address);
    for (const app of ['app-silent', 'app-alive']) {
      await c.request({ type: 'RegisterShuffle', appId: app, shuffleId: 0, numMaps: 1, numPartitions: 4 });
      await writeCommitted(c, app, 0, 0, 2, 4);
    }
    const deadline = Date.now() + 120_000;
    for (;;) {
      t.is((await c.request({ type: 'Heartbeat', appId: 'app-alive' })).message.type, 'Ack');
      const expired = /^pegasus_expired_apps_total 1$/m.test((await httpGet(s.address, '/metrics')).body);
      if (expired && !existsSync(join(s.dataDir, 'shuffles', 'app-silent'))) break;
      if (Date.now() > deadline) t.fail('the silent app did not expire');
      await new Promise((r) => setTimeout(r, 100));
    }
    t.false(existsSync(join(s.dataDir, 'shuffles', 'app-silent')));
    t.true(existsSync(join(s.dataDir, 'shuffles', 'app-alive', '0')));
    const gone = await c.request({ type: 'OpenRead', appId: 'app-silent', shuffleId: 0, partitionStart: 0, partitionEnd: 4, mapStart: 0, mapEnd: 1, creditBytes: 1024 });
    t.is(errorCode(gone.message), ErrorCode.UNKNOWN_APP);
    t.regex((await httpGet(s.address, '/metrics')).body, /^pegasus_expired_apps_total 1$/m);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('SIGTERM flushes and exits cleanly; committed data is served after restart, uncommitted is not', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    await c.request({ type: 'RegisterShuffle', appId: 'app-term', shuffleId: 0, numMaps: 2, numPartitions: 6 });
    const committed = await writeCommitted(c, 'app-term', 0, 0, 3, 6);
    await pushBatch(c, 'app-term', 0, makeBatch(rng(9), 1, 1, 0, 6)); // acknowledged, never committed
    c.close();
    t.is(await stopServer(s), 0);
    const s2 = await startServer({ dataDir: s.dataDir });
    const c2 = await RawClient.connect(s2.address);
    t.is(checkRead(await readRange(c2, 'app-term', 0, 0, 6, 0, 2), committed), null);
    // The uncommitted attempt can no longer commit: its batches are unknown after the restart.
    const late = await c2.request({ type: 'CommitMap', appId: 'app-term', shuffleId: 0, mapId: 1, attempt: 1, batchCount: 1 });
    t.is(errorCode(late.message), ErrorCode.MISSING_BATCHES);
    c2.close();
    t.is(await stopServer(s2), 0);
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('writers faster than the disk are slowed down and memory stays within the budget', async (t) => {
  const budget = 64 * 1024 * 1024;
  // A disk slower than the writers, whatever this machine's disk does: every
  // durable append waits 200 ms first (engine/faults.ts), so writers must wait.
  const s = await startServer({ args: ['--memory-budget-bytes', '64MiB', '--push-window', '4'], env: { PEGASUS_FAULT_APPEND_DELAY_MS: '200' } });
  try {
    const c0 = await RawClient.connect(s.address);
    await c0.request({ type: 'RegisterShuffle', appId: 'app-flow', shuffleId: 0, numMaps: 4, numPartitions: 16 });
    let maxHeld = 0;
    let sawWaiting = false;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const m = (await httpGet(s.address, '/metrics')).body;
        const used = Number(/^pegasus_memory_used_bytes (\d+)$/m.exec(m)?.[1]);
        const waiting = Number(/^pegasus_memory_waiting_bytes (\d+)$/m.exec(m)?.[1]);
        maxHeld = Math.max(maxHeld, used + waiting);
        if (waiting > 0) sawWaiting = true;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const block = Buffer.alloc(1024 * 1024, 7);
    // Four writers, each keeping 4 pushes of 1 MiB in flight, 96 MiB each: 6x the budget.
    await Promise.all([0, 1, 2, 3].map(async (mapId) => {
      const c = await RawClient.connect(s.address);
      for (let batch = 0; batch < 96; batch += 4) {
        for (let k = 0; k < 4; k++) c.sendRaw(encodePush(mapId, batch + k, block));
        for (let k = 0; k < 4; k++) {
          const f = await c.next(60_000);
          if (f === null || f.message.type !== 'Ack') throw new Error(`push failed: ${JSON.stringify(f?.message)}`);
        }
      }
      const f = await c.request({ type: 'CommitMap', appId: 'app-flow', shuffleId: 0, mapId, attempt: 0, batchCount: 96 });
      if (f.message.type !== 'CommitAck') throw new Error('commit failed');
      c.close();
    }));
    done = true;
    await sampler;
    t.true(maxHeld <= budget, `held ${maxHeld} bytes with a budget of ${budget}`);
    t.true(sawWaiting, 'pushes had to wait for memory at least once');
    const total = await readRange(c0, 'app-flow', 0, 0, 16, 0, 4);
    t.is(total.reduce((n, b) => n + b.data.length, 0), 4 * 96 * block.length);
    c0.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

function encodePush(mapId: number, batch: number, data: Buffer): Buffer {
  const p = makePush('app-flow', 0, mapId, 0, batch, [{ partition: (mapId * 5 + batch) % 16, data }]);
  return encodeFrame(batch + 1, p.message, p.body);
}
