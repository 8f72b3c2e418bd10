// A read stream's first ReadData frame leaves with the first read window's
// blocks (net/read-stream.ts), not once a whole frame (readFrameBytes) is read,
// so a reader's first block waits for one small read; later frames fill up to
// readFrameBytes as before. Real server, real files.
import test from 'ava';
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
