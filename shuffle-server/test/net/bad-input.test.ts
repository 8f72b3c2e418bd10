// Bad input of every kind named in the brief: each gets an Error with a code,
// the server stays up, and committed data is still served intact afterwards.
import test from 'ava';
import * as flatbuffers from 'flatbuffers';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { FRAME_BYTES_MAX } from '../../../schemas/ts/limits.js';
import type { Frame } from '../../../schemas/ts/messages.js';
import { Ack as FbAck } from '../../../schemas/generated/ts/pegasus/wire/ack.js';
import { Envelope as FbEnvelope } from '../../../schemas/generated/ts/pegasus/wire/envelope.js';
import { Message as FbMessage } from '../../../schemas/generated/ts/pegasus/wire/message.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { httpGet, removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

const APP = 'app-bad-input';
let server: ServerProcess;
const committed = Buffer.from('committed-before-the-abuse'.repeat(100));

function errorCode(f: Frame | null): ErrorCode | 'closed' {
  if (f === null) return 'closed';
  if (f.message.type !== 'Error') throw new Error(`expected Error, got ${f.message.type}`);
  return f.message.code;
}

/** Reads partition 0 of shuffle 1 and returns its bytes. */
async function readCommitted(): Promise<Buffer> {
  const c = await RawClient.connect(server.address);
  const open = encodeFrame(77, { type: 'OpenRead', appId: APP, shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1 << 24 });
  c.sendRaw(open);
  const parts: Buffer[] = [];
  for (;;) {
    const f = await c.next();
    if (f === null) throw new Error('closed during read');
    if (f.message.type === 'ReadData') parts.push(f.body);
    else if (f.message.type === 'ReadEnd') break;
    else throw new Error(`unexpected ${f.message.type}`);
  }
  c.close();
  return Buffer.concat(parts);
}

async function assertServerHealthy(t: { is: (a: unknown, b: unknown) => void; deepEqual: (a: unknown, b: unknown) => void }): Promise<void> {
  const h = await httpGet(server.address, '/healthz');
  t.is(h.status, 200);
  t.deepEqual(await readCommitted(), committed);
}

test.before(async () => {
  server = await startServer();
  const c = await RawClient.connect(server.address);
  await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 1, numMaps: 2, numPartitions: 4 });
  const push = makePush(APP, 1, 0, 7, 0, [{ partition: 0, data: committed }]);
  const ack = await c.request(push.message, push.body);
  if (ack.message.type !== 'Ack') throw new Error(`push failed: ${JSON.stringify(ack.message)}`);
  const commit = await c.request({ type: 'CommitMap', appId: APP, shuffleId: 1, mapId: 0, attempt: 7, batchCount: 1 });
  if (commit.message.type !== 'CommitAck' || !commit.message.won) throw new Error('commit failed');
  c.close();
});

test.after.always(async () => {
  if (server) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

test.serial('MalformedFrameGetsErrorAndClose', async (t) => {
  const c = await RawClient.connect(server.address);
  const junk = Buffer.from('....this is not a pegasus frame at all, just bytes');
  junk.writeUInt32LE(24, 0); // a plausible envelope length, followed by garbage
  c.sendRaw(junk);
  t.is(errorCode(await c.next()), ErrorCode.MALFORMED_FRAME);
  await c.waitClosed();
  await assertServerHealthy(t);
});

test.serial('TruncatedFrameIsMalformed', async (t) => {
  const c = await RawClient.connect(server.address);
  const push = makePush(APP, 1, 1, 1, 0, [{ partition: 1, data: Buffer.alloc(4096, 1) }]);
  const frame = encodeFrame(5, push.message, push.body);
  c.sendRaw(frame.subarray(0, frame.length - 100));
  t.is(errorCode(await c.next()), ErrorCode.MALFORMED_FRAME);
  await c.waitClosed();
  // Also cut inside the envelope itself.
  const c2 = await RawClient.connect(server.address);
  c2.sendRaw(frame.subarray(0, 30));
  t.is(errorCode(await c2.next()), ErrorCode.MALFORMED_FRAME);
  await assertServerHealthy(t);
});

test.serial('UnknownMessageTypeIsRefused', async (t) => {
  const b = new flatbuffers.Builder(64);
  FbAck.startAck(b);
  const ack = FbAck.endAck(b);
  const env = FbEnvelope.createEnvelope(b, 9, 200 as unknown as FbMessage, ack);
  b.finish(env, 'PGS1');
  const bytes = b.asUint8Array();
  const frame = Buffer.alloc(4 + bytes.length);
  frame.writeUInt32LE(bytes.length, 0);
  frame.set(bytes, 4);
  const c = await RawClient.connect(server.address);
  c.sendRaw(frame);
  t.is(errorCode(await c.next()), ErrorCode.UNKNOWN_MESSAGE);
  await c.waitClosed();
  // A known message that only servers send is refused the same way.
  const c2 = await RawClient.connect(server.address);
  t.is(errorCode((await c2.request({ type: 'ReadEnd', blockCount: 0, byteCount: 0 }))), ErrorCode.UNKNOWN_MESSAGE);
  await assertServerHealthy(t);
});

test.serial('OversizedMessageIsRefused', async (t) => {
  const c = await RawClient.connect(server.address);
  const big = Buffer.alloc(FRAME_BYTES_MAX + 16);
  big.writeUInt32LE(16, 0);
  c.sendRaw(big);
  t.is(errorCode(await c.next()), ErrorCode.MESSAGE_TOO_LARGE);
  await c.waitClosed();
  await assertServerHealthy(t);
});

test.serial('TextFrameIsRefused', async (t) => {
  const c = await RawClient.connect(server.address);
  c.sendRaw('{"type":"Hello"}');
  t.is(errorCode(await c.next()), ErrorCode.MALFORMED_FRAME);
  await c.waitClosed();
  await assertServerHealthy(t);
});

test.serial('RequestBeforeHelloIsRefused', async (t) => {
  const c = await RawClient.connect(server.address, false);
  t.is(errorCode(await c.request({ type: 'Heartbeat', appId: APP })), ErrorCode.HANDSHAKE_REQUIRED);
  await c.waitClosed();
  await assertServerHealthy(t);
});

test.serial('UnsupportedProtocolVersionIsRefused', async (t) => {
  const c = await RawClient.connect(server.address, false);
  t.is(errorCode(await c.request({ type: 'Hello', protocolVersion: 999, client: 'future' })), ErrorCode.UNSUPPORTED_VERSION);
  await c.waitClosed();
});

test.serial('UnknownAppAndShuffleKeepTheConnection', async (t) => {
  const c = await RawClient.connect(server.address);
  const p1 = makePush('no-such-app', 1, 0, 1, 0, [{ partition: 0, data: Buffer.from('x') }]);
  t.is(errorCode(await c.request(p1.message, p1.body)), ErrorCode.UNKNOWN_APP);
  const p2 = makePush(APP, 99, 0, 1, 0, [{ partition: 0, data: Buffer.from('x') }]);
  t.is(errorCode(await c.request(p2.message, p2.body)), ErrorCode.UNKNOWN_SHUFFLE);
  t.is(errorCode(await c.request({ type: 'CommitMap', appId: APP, shuffleId: 99, mapId: 0, attempt: 1, batchCount: 0 })), ErrorCode.UNKNOWN_SHUFFLE);
  t.is(errorCode(await c.request({ type: 'OpenRead', appId: 'ghost', shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1000 })), ErrorCode.UNKNOWN_APP);
  // Out of range arguments are coded too.
  t.is(errorCode(await c.request({ type: 'OpenRead', appId: APP, shuffleId: 1, partitionStart: 0, partitionEnd: 5, mapStart: 0, mapEnd: 1, creditBytes: 1000 })), ErrorCode.INVALID_ARGUMENT);
  const p3 = makePush(APP, 1, 1, 1, 0, [{ partition: 4, data: Buffer.from('x') }]);
  t.is(errorCode(await c.request(p3.message, p3.body)), ErrorCode.INVALID_ARGUMENT);
  t.is(errorCode(await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 1, numMaps: 3, numPartitions: 4 })), ErrorCode.CONFLICT);
  // The same connection still works.
  t.is((await c.request({ type: 'Heartbeat', appId: APP })).message.type, 'Ack');
  c.close();
  await assertServerHealthy(t);
});

test.serial('PathLikeAppIdsAreRefused', async (t) => {
  const c = await RawClient.connect(server.address);
  for (const appId of ['../escape', '..', 'a/b', '/etc', 'a\\b', '.hidden', '', 'x'.repeat(200), 'app\u0000nul', 'a/../../b']) {
    const f = await c.request({ type: 'RegisterShuffle', appId, shuffleId: 1, numMaps: 1, numPartitions: 1 });
    t.is(errorCode(f), ErrorCode.INVALID_ID, `app id ${JSON.stringify(appId)}`);
  }
  t.is(c.closed, false);
  c.close();
  // Nothing was created outside the shuffle directory tree.
  const apps = existsSync(join(server.dataDir, 'shuffles')) ? readdirSync(join(server.dataDir, 'shuffles')) : [];
  t.deepEqual(apps, [APP]);
  t.false(existsSync(join(server.dataDir, '..', 'escape')));
  await assertServerHealthy(t);
});

test.serial('ChecksumMismatchIsRefusedAndNotStored', async (t) => {
  const c = await RawClient.connect(server.address);
  const push = makePush(APP, 1, 1, 3, 0, [{ partition: 0, data: Buffer.alloc(1000, 7) }]);
  if (push.message.type !== 'PushBlocks') throw new Error('unreachable');
  push.message.blocks[0]!.crc32c ^= 1;
  t.is(errorCode(await c.request(push.message, push.body)), ErrorCode.CHECKSUM_MISMATCH);
  // The batch was not recorded: committing it finds it missing.
  t.is(errorCode(await c.request({ type: 'CommitMap', appId: APP, shuffleId: 1, mapId: 1, attempt: 3, batchCount: 1 })), ErrorCode.MISSING_BATCHES);
  c.close();
  await assertServerHealthy(t);
});

test.serial('BodyLengthMismatchIsMalformed', async (t) => {
  const c = await RawClient.connect(server.address);
  const push = makePush(APP, 1, 1, 3, 0, [{ partition: 0, data: Buffer.alloc(1000, 7) }]);
  c.sendRaw(encodeFrame(3, push.message, [Buffer.alloc(999, 7)]));
  t.is(errorCode(await c.next()), ErrorCode.MALFORMED_FRAME);
  await c.waitClosed();
  await assertServerHealthy(t);
});

test.serial('FullDiskRefusesPushesWithDiskFull', async (t) => {
  // A reserve larger than any disk here: the server sees "no room" for pushes,
  // exactly as on a full disk, while reads of committed data go on.
  const full = await startServer({ args: ['--disk-reserve-bytes', '1000GiB'] });
  try {
    const c = await RawClient.connect(full.address);
    t.is((await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 1, numMaps: 1, numPartitions: 1 })).message.type, 'Ack');
    const push = makePush(APP, 1, 0, 1, 0, [{ partition: 0, data: Buffer.alloc(100, 1) }]);
    t.is(errorCode(await c.request(push.message, push.body)), ErrorCode.DISK_FULL);
    t.is((await httpGet(full.address, '/healthz')).status, 200);
    c.close();
  } finally {
    await stopServer(full);
    await removeDir(full.dataDir);
  }
});

test.serial('MetricsCountErrorsByCode', async (t) => {
  const m = await httpGet(server.address, '/metrics');
  t.is(m.status, 200);
  t.regex(m.body, /pegasus_errors_total\{code="MALFORMED_FRAME"\} \d+/);
  t.regex(m.body, /pegasus_errors_total\{code="CHECKSUM_MISMATCH"\} 1/);
  t.regex(m.body, /# TYPE pegasus_push_bytes_total counter/);
});
