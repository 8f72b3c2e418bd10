// Per-connection ordering (schemas/FRAMING.md, Ordering): a CommitMap sent
// after PushBlocks on the same connection sees those pushes, even while they
// still wait for memory. Made deterministic with the smallest budget and an
// injected slow durable append (engine/faults.ts): pushes past the budget
// cannot be buffered until a flush ends, and the flush takes at least the
// injected delay, so the commit always arrives while they wait.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import type { Frame } from '../../../schemas/ts/messages.js';
import { Connection, ShuffleReader, ShuffleWriter, registerShuffle } from '../../../shuffle-client/src/index.js';
import { PENDING_COMMITS_MAX } from '../../src/limits.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

const SLOW = { PEGASUS_FAULT_APPEND_DELAY_MS: '400' };
const TINY_BUDGET = ['--memory-budget-bytes', '64m'];
const MiB = 1024 * 1024;

async function withServer(t: { teardown: (fn: () => Promise<void>) => void }, env: NodeJS.ProcessEnv = SLOW): Promise<ServerProcess> {
  const s = await startServer({ args: TINY_BUDGET, env });
  t.teardown(async () => {
    await stopServer(s);
    await removeDir(s.dataDir);
  });
  return s;
}

/** Sends frames without waiting and collects one answer per request id. */
async function sendAll(c: RawClient, frames: Array<{ id: number; bytes: Buffer }>, timeoutMs = 60_000): Promise<Map<number, Frame>> {
  for (const f of frames) c.sendRaw(f.bytes);
  const answers = new Map<number, Frame>();
  while (answers.size < frames.length) {
    const f = await c.next(timeoutMs);
    if (f === null) throw new Error(`connection closed after ${answers.size} of ${frames.length} answers`);
    answers.set(f.requestId, f);
  }
  return answers;
}

test('CommitAfterQueuedPushesSeesThem: a commit overtakes no push waiting for memory (raw frames)', async (t) => {
  const s = await withServer(t);
  const c = await RawClient.connect(s.address);
  t.teardown(() => c.close());
  const ack = await c.request({ type: 'RegisterShuffle', appId: 'order-app', shuffleId: 0, numMaps: 1, numPartitions: 4 });
  t.is(ack.message.type, 'Ack');
  // 8 pushes of 6 MiB: the window (8) x 6 MiB reserve is capped at half of the
  // 64 MiB budget, so only 5 fit before a flush; the last 3 wait for it.
  const frames: Array<{ id: number; bytes: Buffer }> = [];
  for (let batch = 0; batch < 8; batch++) {
    const p = makePush('order-app', 0, 0, 0, batch, [{ partition: batch % 4, data: Buffer.alloc(6 * MiB, batch + 1) }]);
    frames.push({ id: 100 + batch, bytes: encodeFrame(100 + batch, p.message, p.body) });
  }
  frames.push({ id: 200, bytes: encodeFrame(200, { type: 'CommitMap', appId: 'order-app', shuffleId: 0, mapId: 0, attempt: 0, batchCount: 8 }) });
  const answers = await sendAll(c, frames);
  for (let batch = 0; batch < 8; batch++) t.is(answers.get(100 + batch)!.message.type, 'Ack', `push ${batch}`);
  const commit = answers.get(200)!.message;
  t.is(commit.type, 'CommitAck', JSON.stringify(commit));
  if (commit.type === 'CommitAck') t.true(commit.won);

  const conn = await Connection.connect(s.address);
  t.teardown(() => conn.close());
  const reader = new ShuffleReader({ connection: conn, appId: 'order-app', shuffleId: 0, partitionStart: 0, partitionEnd: 4, mapStart: 0, mapEnd: 1 });
  let bytes = 0;
  for await (const b of reader.readBlocks()) bytes += b.data.length;
  t.is(bytes, 8 * 6 * MiB);
});

test('CommitAfterQueuedPushesSeesThem: the TypeScript writer under a tiny budget and a slow disk', async (t) => {
  const s = await withServer(t);
  const conn = await Connection.connect(s.address);
  t.teardown(() => conn.close());
  await registerShuffle(conn, { appId: 'order-ts', shuffleId: 1, numMaps: 2, numPartitions: 8 });
  const record = Buffer.alloc(64 * 1024, 7);
  for (let mapId = 0; mapId < 2; mapId++) {
    const w = new ShuffleWriter({ connection: conn, appId: 'order-ts', shuffleId: 1, mapId, attempt: 0, numPartitions: 8 });
    for (let i = 0; i < 1200; i++) await w.write(i % 8, record);
    const r = await w.close();
    t.true(r.won);
  }
  const reader = new ShuffleReader({ connection: conn, appId: 'order-ts', shuffleId: 1, partitionStart: 0, partitionEnd: 8, mapStart: 0, mapEnd: 2 });
  let n = 0;
  for await (const r of reader.records()) {
    t.is(r.record.length, record.length);
    n++;
  }
  t.is(n, 2 * 1200);
});

test('PendingCommitsBounded: commits past PENDING_COMMITS_MAX waiting for one flush are refused with LIMIT_EXCEEDED', async (t) => {
  // Appends wait for a gate file: however slowly the commits arrive, none can
  // become durable, so exactly the ones past the bound are refused; opening the
  // gate then lets every waiting one win.
  const gate = join(tmpdir(), `pegasus-gate-${process.pid}-${Date.now()}`);
  const s = await startServer({ args: [...TINY_BUDGET], env: { PEGASUS_FAULT_APPEND_GATE: gate } });
  t.teardown(async () => {
    writeFileSync(gate, '');
    await stopServer(s);
    await removeDir(s.dataDir);
    rmSync(gate, { force: true });
  });
  const c = await RawClient.connect(s.address);
  t.teardown(() => c.close());
  const total = PENDING_COMMITS_MAX + 50;
  await c.request({ type: 'RegisterShuffle', appId: 'bound-app', shuffleId: 0, numMaps: total, numPartitions: 1 });
  for (let mapId = 0; mapId < total; mapId++) {
    // A map with no output commits zero batches: nothing to flush but its commit row.
    c.sendRaw(encodeFrame(mapId + 10, { type: 'CommitMap', appId: 'bound-app', shuffleId: 0, mapId, attempt: 0, batchCount: 0 }));
  }
  const answers = new Map<number, Frame>();
  const next = async (): Promise<Frame> => {
    const f = await c.next(120_000);
    if (f === null) throw new Error(`connection closed after ${answers.size} of ${total} answers`);
    answers.set(f.requestId, f);
    return f;
  };
  // While the gate is shut only refusals can be answered.
  while (answers.size < total - PENDING_COMMITS_MAX) {
    const f = await next();
    t.is(f.message.type, 'Error');
    if (f.message.type === 'Error') t.is(f.message.code, ErrorCode.LIMIT_EXCEEDED);
  }
  writeFileSync(gate, '');
  while (answers.size < total) await next();
  let won = 0;
  for (const f of answers.values()) if (f.message.type === 'CommitAck' && f.message.won) won++;
  t.is(won, PENDING_COMMITS_MAX, 'every commit within the bound won once the disk moved');
  t.true(s.proc.exitCode === null, 'server still up');
});
