// ReadData messages go out as WebSocket fragments: large block data straight
// from the read window, small pieces copied together (net/message-fragments.ts).
// The planner's rules, then the wire: a raw socket sees the fragments, and what
// they carry, put together, is the same message a single frame would hold.
import test from 'ava';
import { decodeFrame, encodeFrame } from '../../../schemas/ts/codec.js';
import { PROTOCOL_VERSION } from '../../../schemas/ts/version.js';
import { FRAGMENT_COPY_BYTES_MAX, FRAGMENT_ZERO_COPY_BYTES_MIN } from '../../src/limits.js';
import { fragmentBytes, planFragments } from '../../src/net/message-fragments.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { OP, clientFrame, rawUpgrade, type ServerFrame } from '../helpers/raw-socket.js';
import { removeDir, startServer, stopServer } from '../helpers/server-process.js';

const sizes = (ns: number[]): Buffer[] => ns.map((n, i) => Buffer.alloc(n, i + 1));

test('PlanSendsLargePartsAloneAndCopiesSmallOnesTogether', (t) => {
  const parts = sizes([40, 10, 100, 5, 5, 300, 7]);
  t.deepEqual(planFragments(parts, 100, 120), [
    { kind: 'copy', from: 0, to: 2, bytes: 50 },
    { kind: 'part', index: 2 },
    { kind: 'copy', from: 3, to: 5, bytes: 10 },
    { kind: 'part', index: 5 },
    { kind: 'copy', from: 6, to: 7, bytes: 7 },
  ]);
});

test('PlanCutsCopiesAtCopyMaxWithoutSplittingAPart', (t) => {
  const parts = sizes([60, 60, 60, 0, 60]);
  const plan = planFragments(parts, 100, 130);
  t.deepEqual(plan, [
    { kind: 'copy', from: 0, to: 2, bytes: 120 },
    { kind: 'copy', from: 2, to: 5, bytes: 120 },
  ]);
  const scratch = Buffer.alloc(130);
  const joined = Buffer.concat(plan.map((f) => Buffer.from(fragmentBytes(f, parts, scratch))));
  t.deepEqual(joined, Buffer.concat(parts));
});

test('PlanOfAnEmptyMessageIsOneEmptyFragment', (t) => {
  t.deepEqual(planFragments([Buffer.alloc(0)], 100, 120), [{ kind: 'copy', from: 0, to: 0, bytes: 0 }]);
  t.throws(() => planFragments([], 100, 99), { instanceOf: RangeError });
});

test('ReadDataArrivesAsFragmentsThatMakeTheSameMessage', async (t) => {
  const server = await startServer();
  try {
    const app = 'app-fragments';
    const c = await RawClient.connect(server.address);
    t.is((await c.request({ type: 'RegisterShuffle', appId: app, shuffleId: 0, numMaps: 1, numPartitions: 1 })).message.type, 'Ack');
    // Blocks of partition 0 in push order: large ones go out uncopied, small ones together.
    const blocks = [3 * FRAGMENT_ZERO_COPY_BYTES_MIN, 100, 200, FRAGMENT_ZERO_COPY_BYTES_MIN, 7, FRAGMENT_COPY_BYTES_MAX + 1]
      .map((n, i) => Buffer.alloc(n, (i * 37) & 0xff));
    for (const [batch, data] of blocks.entries()) {
      const p = makePush(app, 0, 0, 0, batch, [{ partition: 0, data }]);
      t.is((await c.request(p.message, p.body)).message.type, 'Ack');
    }
    t.is((await c.request({ type: 'CommitMap', appId: app, shuffleId: 0, mapId: 0, attempt: 0, batchCount: blocks.length })).message.type, 'CommitAck');
    c.close();

    const up = await rawUpgrade(server.address);
    if (up.ws === null) throw new Error(`upgrade refused: ${up.status}`);
    const ws = up.ws;
    void ws.write(clientFrame(OP.BINARY, encodeFrame(1, { type: 'Hello', protocolVersion: PROTOCOL_VERSION, client: 'raw-fragments' })));
    t.is(decodeFrame((await ws.next())!.payload).message.type, 'HelloAck');
    void ws.write(clientFrame(OP.BINARY, encodeFrame(2, {
      type: 'OpenRead', appId: app, shuffleId: 0, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 64 << 20,
    })));
    // Frames until ReadEnd: each message is a BINARY frame, then CONTINUATIONs up to FIN.
    const messages: ServerFrame[][] = [];
    let open: ServerFrame[] | null = null;
    for (;;) {
      const f = await ws.next();
      if (f === null) throw new Error('connection closed before ReadEnd');
      if (f.opcode === OP.PING || f.opcode === OP.PONG) continue;
      t.is(f.opcode, open === null ? OP.BINARY : OP.CONTINUATION);
      if (open === null) open = [];
      open.push(f);
      if (!f.fin) continue;
      messages.push(open);
      open = null;
      if (decodeFrame(Buffer.concat(messages.at(-1)!.map((x) => x.payload))).message.type === 'ReadEnd') break;
    }
    const data = messages.slice(0, -1).map((m) => ({ frames: m, frame: decodeFrame(Buffer.concat(m.map((x) => x.payload))) }));
    const got: Buffer[] = [];
    for (const { frame } of data) {
      t.is(frame.message.type, 'ReadData');
      if (frame.message.type !== 'ReadData') continue;
      let at = 0;
      for (const h of frame.message.blocks) {
        got.push(Buffer.from(frame.body.subarray(at, at + h.storedLength)));
        at += h.storedLength;
      }
    }
    t.deepEqual(got, blocks);
    // Every large block was a fragment of exactly its own bytes somewhere.
    const fragments = data.flatMap((d) => d.frames.map((f) => f.payload));
    for (const b of blocks.filter((x) => x.length >= FRAGMENT_ZERO_COPY_BYTES_MIN)) {
      t.true(fragments.some((f) => f.equals(b)), `a block of ${b.length} bytes went out as a fragment of its own`);
    }
    t.true(fragments.every((f) => f.length <= Math.max(FRAGMENT_COPY_BYTES_MAX, ...blocks.map((b) => b.length))));
    ws.destroy();
  } finally {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});
