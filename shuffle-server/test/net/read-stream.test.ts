// A read stream's first ReadData frame leaves with the first read window's
// blocks (net/read-stream.ts), not once a whole frame (readFrameBytes) is read,
// so a reader's first block waits for one small read; later frames fill up to
// readFrameBytes within a window. Windows are read into reused buffers
// (engine/read-buffers.ts): concurrent reads paced by small credits must
// still get every byte right. Real server, real files.
import test from 'ava';
import { createHash } from 'node:crypto';
import { encodeFrame } from '../../../schemas/ts/codec.js';
import { READ_FIRST_WINDOW_BYTES } from '../../src/limits.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer } from '../helpers/server-process.js';

test('FirstFrameCarriesTheFirstWindowLaterFramesFillUp', async (t) => {
  const server = await startServer();
  try {
    const app = 'app-first-frame';
    const maps = 8;
    const c = await RawClient.connect(server.address);
    t.is((await c.request({ type: 'RegisterShuffle', appId: app, shuffleId: 0, numMaps: maps, numPartitions: 1 })).message.type, 'Ack');
    // One run per map (each commit flushes), each a bit over half the first window:
    // the first window holds one run, the default 1 MiB frame would hold five.
    const blockBytes = Math.ceil(READ_FIRST_WINDOW_BYTES * 0.6);
    const blocks: Buffer[] = [];
    for (let m = 0; m < maps; m++) {
      const data = Buffer.alloc(blockBytes, m + 1);
      blocks.push(data);
      const p = makePush(app, 0, m, 0, 0, [{ partition: 0, data }]);
      t.is((await c.request(p.message, p.body)).message.type, 'Ack');
      t.is((await c.request({ type: 'CommitMap', appId: app, shuffleId: 0, mapId: m, attempt: 0, batchCount: 1 })).message.type, 'CommitAck');
    }
    c.sendRaw(encodeFrame(100, {
      type: 'OpenRead', appId: app, shuffleId: 0, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: maps, creditBytes: 64 << 20,
    }));
    const perFrame: number[] = [];
    const got: Buffer[] = [];
    for (;;) {
      const f = await c.next();
      if (f === null) throw new Error('connection closed before ReadEnd');
      if (f.message.type === 'ReadEnd') break;
      if (f.message.type !== 'ReadData') throw new Error(`unexpected ${f.message.type}`);
      perFrame.push(f.message.blocks.length);
      let at = 0;
      for (const h of f.message.blocks) {
        got.push(f.body.subarray(at, at + h.storedLength));
        at += h.storedLength;
      }
    }
    t.deepEqual(got, blocks, 'every block once, in stored order');
    t.is(perFrame[0], 1, `first frame: the first window's one run (frames: ${perFrame.join(',')})`);
    t.true(perFrame.slice(1, -1).every((n) => n > 1), `later frames fill up (frames: ${perFrame.join(',')})`);
    c.close();
  } finally {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

test('ConcurrentReadsPacedByCreditGetEveryByteThoughWindowsAreReused', async (t) => {
  const server = await startServer();
  try {
    const app = 'app-window-reuse';
    const maps = 6;
    const partitions = 48;
    const c = await RawClient.connect(server.address);
    t.is((await c.request({ type: 'RegisterShuffle', appId: app, shuffleId: 0, numMaps: maps, numPartitions: partitions })).message.type, 'Ack');
    // Distinct bytes per (map, partition), sizes from 1 byte to ~150 KiB, so
    // windows hold from one run to many and a stale byte anywhere shows.
    const want = new Map<string, Buffer>();
    for (let m = 0; m < maps; m++) {
      const blocks: Array<{ partition: number; data: Buffer }> = [];
      for (let p = 0; p < partitions; p++) {
        const size = 1 + ((m * 7919 + p * 104_729) % 150_000);
        const data = Buffer.alloc(size);
        let seed = createHash('sha256').update(`${m}/${p}`).digest();
        for (let at = 0; at < size; at += seed.length) {
          seed.copy(data, at);
          seed = createHash('sha256').update(seed).digest();
        }
        want.set(`${m}/${p}`, data);
        blocks.push({ partition: p, data });
      }
      const push = makePush(app, 0, m, 0, 0, blocks);
      t.is((await c.request(push.message, push.body)).message.type, 'Ack');
      t.is((await c.request({ type: 'CommitMap', appId: app, shuffleId: 0, mapId: m, attempt: 0, batchCount: 1 })).message.type, 'CommitAck');
    }
    c.close();
    // Four streams at once, each on its own connection, each given credit one
    // frame at a time (as a reader consuming slowly would), over overlapping ranges.
    const ranges = [[0, 48], [0, 24], [12, 40], [30, 48]] as const;
    const results = await Promise.all(ranges.map(async ([start, end]) => {
      const r = await RawClient.connect(server.address);
      r.sendRaw(encodeFrame(7, {
        type: 'OpenRead', appId: app, shuffleId: 0, partitionStart: start, partitionEnd: end, mapStart: 0, mapEnd: maps, creditBytes: 64 * 1024,
      }));
      const got: Array<{ key: string; data: Buffer }> = [];
      for (;;) {
        const f = await r.next(30_000);
        if (f === null) throw new Error('connection closed before ReadEnd');
        if (f.message.type === 'ReadEnd') break;
        if (f.message.type !== 'ReadData') throw new Error(`unexpected ${f.message.type}`);
        let at = 0;
        for (const h of f.message.blocks) {
          got.push({ key: `${h.mapId}/${h.partition}`, data: f.body.subarray(at, at + h.storedLength) });
          at += h.storedLength;
        }
        // Yield to the other streams before granting more.
        await new Promise((resolve) => setImmediate(resolve));
        r.sendRaw(encodeFrame(7, { type: 'ReadCredit', creditBytes: f.body.length }));
      }
      r.close();
      return { start, end, got };
    }));
    for (const { start, end, got } of results) {
      t.is(got.length, maps * (end - start), `[${start}, ${end}): every block once`);
      t.is(new Set(got.map((g) => g.key)).size, got.length, `[${start}, ${end}): no block twice`);
      const wrong = got.filter((g) => !g.data.equals(want.get(g.key)!)).map((g) => g.key);
      t.deepEqual(wrong, [], `[${start}, ${end}): every block's bytes as pushed`);
    }
  } finally {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});
