// Pushes that could be stored but never read or committed are refused at push
// time, each with a code, the connection and the shuffle unharmed: a fuzzer
// found each of these acknowledged by release 0.1 (one bad writer then
// poisoned every reader of the partition with CORRUPT_DATA).
import test from 'ava';
import { crc32c } from '../../../native/ts/crc32c.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { BATCHES_PER_ATTEMPT_MAX } from '../../../schemas/ts/limits.js';
import { Codec, type BlockHeader, type Frame, type Message } from '../../../schemas/ts/messages.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

const APP = 'app-push-check';
let server: ServerProcess;
let client: RawClient;

test.before(async () => {
  server = await startServer();
  client = await RawClient.connect(server.address);
  const ack = await client.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 3, numMaps: 4, numPartitions: 2 });
  if (ack.message.type !== 'Ack') throw new Error(JSON.stringify(ack.message));
});

test.after.always(async () => {
  client.close();
  await stopServer(server);
  await removeDir(server.dataDir);
});

function push(mapId: number, batch: number, block: Partial<BlockHeader>, data: Buffer): { message: Message; body: Buffer[] } {
  const header: BlockHeader = {
    attempt: 0, mapId, partition: 0, batch, seq: 0,
    rawLength: data.length, storedLength: data.length, crc32c: crc32c(data), codec: Codec.NONE, ...block,
  };
  return { message: { type: 'PushBlocks', appId: APP, shuffleId: 3, blocks: [header] }, body: [data] };
}

function codeOf(f: Frame): ErrorCode | string {
  return f.message.type === 'Error' ? f.message.code : f.message.type;
}

async function refused(t: { is: (a: unknown, b: unknown, m?: string) => void }, p: { message: Message; body: Buffer[] }, code: ErrorCode): Promise<void> {
  const answer = await client.request(p.message, p.body);
  t.is(codeOf(answer), code, JSON.stringify(answer.message));
}

/** The shuffle still takes a good push and commit from the same connection, and reads back only it. */
async function stillWorks(t: { is: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean) => void }, mapId: number): Promise<void> {
  const good = makePush(APP, 3, mapId, 0, 0, [{ partition: 1, data: Buffer.from(`good-${mapId}`) }]);
  t.is(codeOf(await client.request(good.message, good.body)), 'Ack');
  const commit = await client.request({ type: 'CommitMap', appId: APP, shuffleId: 3, mapId, attempt: 0, batchCount: 1 });
  t.is(codeOf(commit), 'CommitAck');
}

test.serial('UncompressedRawLengthMismatch: a NONE block whose raw length differs from its stored length is INVALID_ARGUMENT', async (t) => {
  const data = Buffer.from('twelve bytes');
  await refused(t, push(0, 0, { rawLength: data.length + 5 }, data), ErrorCode.INVALID_ARGUMENT);
  await refused(t, push(0, 0, { rawLength: 0 }, data), ErrorCode.INVALID_ARGUMENT);
  await stillWorks(t, 0);
});

test.serial('Lz4PrefixMismatch: an LZ4 block whose length prefix disagrees with its raw length is INVALID_ARGUMENT', async (t) => {
  const stored = Buffer.alloc(16, 1);
  stored.writeUInt32LE(999, 0);
  await refused(t, push(1, 0, { codec: Codec.LZ4, rawLength: 1000 }, stored), ErrorCode.INVALID_ARGUMENT);
  const tooShort = Buffer.from([5, 0, 0]);
  await refused(t, push(1, 0, { codec: Codec.LZ4, rawLength: 5 }, tooShort), ErrorCode.INVALID_ARGUMENT);
  await stillWorks(t, 1);
});

test.serial('BatchBeyondAttemptMaximum: batches at or past BATCHES_PER_ATTEMPT_MAX (up to 2^32-1) are INVALID_ARGUMENT', async (t) => {
  for (const batch of [BATCHES_PER_ATTEMPT_MAX, BATCHES_PER_ATTEMPT_MAX + 1, 0x8000_0000, 0xffff_ffff]) {
    await refused(t, push(2, batch, { batch }, Buffer.from(`batch ${batch}`)), ErrorCode.INVALID_ARGUMENT);
  }
  const last = push(2, BATCHES_PER_ATTEMPT_MAX - 1, { batch: BATCHES_PER_ATTEMPT_MAX - 1 }, Buffer.from('the last batch that can exist'));
  t.is(codeOf(await client.request(last.message, last.body)), 'Ack', 'the largest legal batch number is taken');
  await stillWorks(t, 3);
});
