// Normal races between a shuffle's work and its removal: each ends with a code
// that names what happened (UNKNOWN_SHUFFLE / UNKNOWN_APP), never STORAGE_IO,
// never an error line in the log, and never harms a registration that follows.
// A slow durable append (engine/faults.ts) holds the flush open so the removal
// always lands inside it.
import test from 'ava';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import type { Frame } from '../../../schemas/ts/messages.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer } from '../helpers/server-process.js';

const SLOW = { PEGASUS_FAULT_APPEND_DELAY_MS: '500' };

function kind(f: Frame): string {
  return f.message.type === 'Error' ? `Error:${ErrorCode[f.message.code]}` : f.message.type;
}

/** Frames that arrived while another request's answer was awaited, per client. */
const early = new WeakMap<RawClient, Frame[]>();

/** The next frame answering `requestId`; frames of other requests are kept for their own wait, in order. */
async function answerTo(c: RawClient, requestId: number): Promise<Frame> {
  const kept = early.get(c) ?? [];
  early.set(c, kept);
  const i = kept.findIndex((f) => f.requestId === requestId);
  if (i >= 0) return kept.splice(i, 1)[0]!;
  for (;;) {
    const f = await c.next(30_000);
    if (f === null) throw new Error(`connection closed before the answer to ${requestId}`);
    if (f.requestId === requestId) return f;
    kept.push(f);
  }
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.includes('"level":"error"'));
}

test('CommitRacingUnregisterAppAndReRegister: the commit is UNKNOWN_*, the new registration keeps its data', async (t) => {
  const s = await startServer({ env: SLOW, args: ['--log-level', 'debug'] });
  t.teardown(async () => {
    await stopServer(s);
    await removeDir(s.dataDir);
  });
  const a = await RawClient.connect(s.address);
  const b = await RawClient.connect(s.address);
  t.teardown(() => {
    a.close();
    b.close();
  });
  const register = { type: 'RegisterShuffle', appId: 'race-app', shuffleId: 0, numMaps: 2, numPartitions: 2 } as const;
  t.is(kind(await a.request(register)), 'Ack');
  const p = makePush('race-app', 0, 0, 0, 0, [{ partition: 0, data: Buffer.from('old incarnation') }]);
  t.is(kind(await a.request(p.message, p.body)), 'Ack');
  // The commit's flush now waits in the slow append; unregister and re-register meanwhile.
  a.sendRaw(encodeFrame(50, { type: 'CommitMap', appId: 'race-app', shuffleId: 0, mapId: 0, attempt: 0, batchCount: 1 }));
  b.sendRaw(encodeFrame(60, { type: 'UnregisterApp', appId: 'race-app' }));
  b.sendRaw(encodeFrame(61, register));
  const commit = await answerTo(a, 50);
  t.true(['CommitAck', 'Error:UNKNOWN_SHUFFLE', 'Error:UNKNOWN_APP'].includes(kind(commit)), kind(commit));
  t.is(kind(await answerTo(b, 60)), 'Ack');
  t.is(kind(await answerTo(b, 61)), 'Ack');

  // The new incarnation works and nothing of the old one shows.
  const fresh = makePush('race-app', 0, 1, 0, 0, [{ partition: 1, data: Buffer.from('new incarnation') }]);
  t.is(kind(await b.request(fresh.message, fresh.body)), 'Ack');
  const freshCommit = await b.request({ type: 'CommitMap', appId: 'race-app', shuffleId: 0, mapId: 1, attempt: 0, batchCount: 1 });
  t.is(kind(freshCommit), 'CommitAck', JSON.stringify(freshCommit.message));
  b.sendRaw(encodeFrame(70, { type: 'OpenRead', appId: 'race-app', shuffleId: 0, partitionStart: 0, partitionEnd: 2, mapStart: 0, mapEnd: 2, creditBytes: 1 << 20 }));
  const parts: Buffer[] = [];
  for (;;) {
    const f = await answerTo(b, 70);
    if (f.message.type === 'ReadData') parts.push(f.body);
    else {
      t.is(f.message.type, 'ReadEnd');
      break;
    }
  }
  t.is(Buffer.concat(parts).toString(), 'new incarnation');
  t.deepEqual(errorLines(s.stderr()), []);

  // The new registration's rows survived the old removal: they are there after a restart.
  await stopServer(s);
  const again = await startServer({ dataDir: s.dataDir });
  t.teardown(() => stopServer(again));
  const c = await RawClient.connect(again.address);
  t.teardown(() => c.close());
  t.is(kind(await c.request(register)), 'Ack', 'same shape: still registered');
  c.sendRaw(encodeFrame(80, { type: 'OpenRead', appId: 'race-app', shuffleId: 0, partitionStart: 0, partitionEnd: 2, mapStart: 0, mapEnd: 2, creditBytes: 1 << 20 }));
  const after: Buffer[] = [];
  for (;;) {
    const f = await answerTo(c, 80);
    if (f.message.type === 'ReadData') after.push(f.body);
    else break;
  }
  t.is(Buffer.concat(after).toString(), 'new incarnation');
});

test('FlushRacingUnregisterShuffle: a pressure or commit flush of a removed shuffle logs no error line', async (t) => {
  const s = await startServer({ env: SLOW, args: ['--memory-budget-bytes', '64m'] });
  t.teardown(async () => {
    await stopServer(s);
    await removeDir(s.dataDir);
  });
  const a = await RawClient.connect(s.address);
  t.teardown(() => a.close());
  for (let round = 0; round < 3; round++) {
    const register = { type: 'RegisterShuffle', appId: 'race-flush', shuffleId: round, numMaps: 1, numPartitions: 2 } as const;
    t.is(kind(await a.request(register)), 'Ack');
    // Enough to pass the flush threshold (half of 64 MiB), so a pressure flush runs.
    for (let batch = 0; batch < 5; batch++) {
      const p = makePush('race-flush', round, 0, 0, batch, [{ partition: batch % 2, data: Buffer.alloc(8 * 1024 * 1024, batch) }]);
      t.is(kind(await a.request(p.message, p.body)), 'Ack');
    }
    a.sendRaw(encodeFrame(90 + round, { type: 'CommitMap', appId: 'race-flush', shuffleId: round, mapId: 0, attempt: 0, batchCount: 5 }));
    a.sendRaw(encodeFrame(190 + round, { type: 'UnregisterShuffle', appId: 'race-flush', shuffleId: round }));
    t.is(kind(await answerTo(a, 190 + round)), 'Ack');
    const commit = await answerTo(a, 90 + round);
    t.true(['CommitAck', 'Error:UNKNOWN_SHUFFLE'].includes(kind(commit)), kind(commit));
  }
  t.deepEqual(errorLines(s.stderr()), []);
});
