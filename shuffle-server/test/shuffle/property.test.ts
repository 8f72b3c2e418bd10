// Random sequences of pushes, retried pushes, duplicate attempts, commits,
// reads and removals against a real server, checked after every read against
// a plain in-memory model of what must be served. The seed is printed on
// failure; PEGASUS_PROPERTY_SEED replays one.
import test from 'ava';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { RawClient } from '../helpers/raw-client.js';
import { removeDir, startServer, stopServer } from '../helpers/server-process.js';
import {
  checkRead, makeBatch, pushBatch, randInt, readRange, rng, type ModelBlock,
} from '../helpers/shuffle-model.js';

const APP = 'app-property';

interface AttemptState {
  batches: ModelBlock[][];
}

interface ShuffleModel {
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
  /** mapId -> attempt -> pushed batches */
  attempts: Map<number, Map<number, AttemptState>>;
  /** mapId -> winning attempt and its batch count */
  committed: Map<number, { attempt: number; batchCount: number }>;
}

function expectedBlocks(s: ShuffleModel, pStart: number, pEnd: number, mStart: number, mEnd: number): ModelBlock[] {
  const out: ModelBlock[] = [];
  for (const [mapId, c] of s.committed) {
    if (mapId < mStart || mapId >= mEnd) continue;
    const st = s.attempts.get(mapId)!.get(c.attempt)!;
    for (const batch of st.batches.slice(0, c.batchCount)) {
      for (const b of batch) if (b.partition >= pStart && b.partition < pEnd) out.push(b);
    }
  }
  return out;
}

const seeds = process.env['PEGASUS_PROPERTY_SEED'] !== undefined ? [Number(process.env['PEGASUS_PROPERTY_SEED'])] : [11, 12, 13];

for (const seed of seeds) {
  test(`random pushes, retries, duplicate attempts, commits and reads match the model (seed ${seed})`, async (t) => {
    // A small budget and segment size make flushes and segment rolls happen often.
    const server = await startServer({ args: ['--memory-budget-bytes', '64MiB', '--segment-bytes-max', '16MiB', '--commit-flush-delay-ms', '1'] });
    const r = rng(seed);
    const c = await RawClient.connect(server.address);
    try {
      const shuffles = new Map<number, ShuffleModel>();
      let nextShuffleId = 0;
      const register = async (): Promise<ShuffleModel> => {
        const s: ShuffleModel = {
          shuffleId: nextShuffleId++, numMaps: randInt(r, 1, 8), numPartitions: randInt(r, 1, 40),
          attempts: new Map(), committed: new Map(),
        };
        const f = await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: s.shuffleId, numMaps: s.numMaps, numPartitions: s.numPartitions });
        t.is(f.message.type, 'Ack');
        shuffles.set(s.shuffleId, s);
        return s;
      };
      await register();
      let reads = 0;
      for (let step = 0; step < 400; step++) {
        const all = [...shuffles.values()];
        const s = all[randInt(r, 0, all.length)]!;
        const op = r();
        const mapId = randInt(r, 0, s.numMaps);
        const attempt = randInt(r, 0, 3); // up to three competing attempts per map
        let attempts = s.attempts.get(mapId);
        if (attempts === undefined) {
          attempts = new Map();
          s.attempts.set(mapId, attempts);
        }
        if (op < 0.45) {
          // Push the next batch of an attempt (ignored by the server once the map committed).
          let st = attempts.get(attempt);
          if (st === undefined) {
            st = { batches: [] };
            attempts.set(attempt, st);
          }
          const batch = makeBatch(r, mapId, attempt, st.batches.length, s.numPartitions);
          await pushBatch(c, APP, s.shuffleId, batch);
          if (!s.committed.has(mapId)) st.batches.push(batch);
        } else if (op < 0.55) {
          // Retry an earlier batch: must be stored once.
          const st = attempts.get(attempt);
          if (st !== undefined && st.batches.length > 0) await pushBatch(c, APP, s.shuffleId, st.batches[randInt(r, 0, st.batches.length)]!);
        } else if (op < 0.72) {
          // Commit an attempt with everything it pushed (sometimes claiming one batch too many).
          const st = attempts.get(attempt) ?? { batches: [] };
          const overclaim = r() < 0.15;
          const batchCount = st.batches.length + (overclaim ? 1 : 0);
          const f = await c.request({ type: 'CommitMap', appId: APP, shuffleId: s.shuffleId, mapId, attempt, batchCount });
          const prior = s.committed.get(mapId);
          if (prior !== undefined) {
            t.deepEqual(f.message, { type: 'CommitAck', won: prior.attempt === attempt, winnerAttempt: prior.attempt }, `step ${step}`);
          } else if (overclaim) {
            t.is(f.message.type === 'Error' ? f.message.code : -1, ErrorCode.MISSING_BATCHES, `step ${step}`);
          } else {
            t.deepEqual(f.message, { type: 'CommitAck', won: true, winnerAttempt: attempt }, `step ${step}`);
            s.committed.set(mapId, { attempt, batchCount });
            if (!attempts.has(attempt)) attempts.set(attempt, st);
          }
        } else if (op < 0.92) {
          // Read a random partition range and map range.
          const p0 = randInt(r, 0, s.numPartitions);
          const p1 = randInt(r, p0, s.numPartitions + 1);
          const m0 = randInt(r, 0, s.numMaps);
          const m1 = randInt(r, m0, s.numMaps + 1);
          const got = await readRange(c, APP, s.shuffleId, p0, p1, m0, m1);
          const problem = checkRead(got, expectedBlocks(s, p0, p1, m0, m1));
          t.is(problem, null, `seed ${seed} step ${step} read [${p0},${p1}) maps [${m0},${m1}) of shuffle ${s.shuffleId}`);
          reads++;
        } else if (op < 0.96 && shuffles.size > 1) {
          // Remove a shuffle: later requests for it are UNKNOWN_SHUFFLE.
          t.is((await c.request({ type: 'UnregisterShuffle', appId: APP, shuffleId: s.shuffleId })).message.type, 'Ack');
          shuffles.delete(s.shuffleId);
          const f = await c.request({ type: 'OpenRead', appId: APP, shuffleId: s.shuffleId, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1024 });
          t.is(f.message.type === 'Error' ? f.message.code : -1, ErrorCode.UNKNOWN_SHUFFLE);
        } else if (shuffles.size < 4) {
          await register();
        }
      }
      // Final full read of every shuffle.
      for (const s of shuffles.values()) {
        const got = await readRange(c, APP, s.shuffleId, 0, s.numPartitions, 0, s.numMaps);
        t.is(checkRead(got, expectedBlocks(s, 0, s.numPartitions, 0, s.numMaps)), null, `seed ${seed} final read of shuffle ${s.shuffleId}`);
      }
      t.true(reads > 50);
    } finally {
      c.close();
      await stopServer(server);
      await removeDir(server.dataDir);
    }
  });
}
