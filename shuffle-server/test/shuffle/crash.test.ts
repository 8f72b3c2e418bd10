// Crash test: writers push and commit while the server is killed with SIGKILL
// at a random moment; the server restarts on the same data directory, and a
// full read is checked against the model. A commit that was acknowledged must
// be served whole; a commit in flight at the kill must be served whole or not
// at all; an attempt that never committed is never served. Several rounds, then
// a final round without a kill where every map commits.
import test from 'ava';
import { RawClient } from '../helpers/raw-client.js';
import { killServer, makeDataDir, removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { checkRead, key, makeBatch, pushBatch, randInt, readRange, rng, type ModelBlock } from '../helpers/shuffle-model.js';

const APP = 'app-crash';
const SHUFFLE = 1;
const NUM_MAPS = 64;
const NUM_PARTITIONS = 16;
const ROUNDS = 5;
const CONCURRENCY = 6;

type MapState =
  | { kind: 'open' }
  | { kind: 'committed'; attempt: number; blocks: ModelBlock[] }
  | { kind: 'inflight'; attempt: number; blocks: ModelBlock[] };

async function writeMap(address: string, mapId: number, attempt: number, r: () => number, states: MapState[]): Promise<void> {
  const c = await RawClient.connect(address);
  try {
    const batches = randInt(r, 3, 10);
    const blocks: ModelBlock[] = [];
    for (let b = 0; b < batches; b++) {
      const batch = makeBatch(r, mapId, attempt, b, NUM_PARTITIONS, 8, 64 * 1024);
      await pushBatch(c, APP, SHUFFLE, batch);
      blocks.push(...batch);
    }
    // From here until the answer, the commit may or may not have happened.
    states[mapId] = { kind: 'inflight', attempt, blocks };
    const f = await c.request({ type: 'CommitMap', appId: APP, shuffleId: SHUFFLE, mapId, attempt, batchCount: batches });
    if (f.message.type !== 'CommitAck' || !f.message.won) throw new Error(`commit of map ${mapId} failed: ${JSON.stringify(f.message)}`);
    states[mapId] = { kind: 'committed', attempt, blocks };
  } finally {
    c.close();
  }
}

/** Reads everything and reconciles in-flight commits; returns a problem or null. */
async function verify(address: string, states: MapState[]): Promise<string | null> {
  const c = await RawClient.connect(address);
  try {
    const got = await readRange(c, APP, SHUFFLE, 0, NUM_PARTITIONS, 0, NUM_MAPS);
    const present = new Map<number, Set<string>>();
    for (const g of got) {
      const set = present.get(g.header.mapId) ?? new Set<string>();
      set.add(key(g.header));
      present.set(g.header.mapId, set);
    }
    for (let m = 0; m < NUM_MAPS; m++) {
      const s = states[m]!;
      if (s.kind !== 'inflight') continue;
      const have = present.get(m);
      if (have === undefined || have.size === 0) states[m] = { kind: 'open' };
      else if (have.size === s.blocks.length && s.blocks.every((b) => have.has(key(b)))) states[m] = { kind: 'committed', attempt: s.attempt, blocks: s.blocks };
      else return `map ${m} attempt ${s.attempt} is served partially: ${have.size} of ${s.blocks.length} blocks`;
    }
    const expected: ModelBlock[] = [];
    for (const s of states) if (s.kind === 'committed') expected.push(...s.blocks);
    return checkRead(got, expected);
  } finally {
    c.close();
  }
}

// Both commit durabilities: 'process' acknowledges once the bytes are with the
// operating system, which a SIGKILL of the server does not lose; 'sync' once
// they are on the disk.
for (const durability of ['process', 'sync'] as const) {
  test(`acknowledged commits survive SIGKILL during pushes and commits; uncommitted attempts are never served (commitDurability ${durability})`, async (t) => {
    const dataDir = await makeDataDir();
    const r = rng(2026);
    const states: MapState[] = Array.from({ length: NUM_MAPS }, () => ({ kind: 'open' }));
    let nextAttempt = 1;
    let server: ServerProcess | null = null;
    let kills = 0;
    try {
      for (let round = 0; round <= ROUNDS; round++) {
        const final = round === ROUNDS;
        server = await startServer({ dataDir, args: ['--memory-budget-bytes', '64MiB', '--segment-bytes-max', '16MiB', '--commit-durability', durability] });
        if (round === 0) {
          const c = await RawClient.connect(server.address);
          t.is((await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: SHUFFLE, numMaps: NUM_MAPS, numPartitions: NUM_PARTITIONS })).message.type, 'Ack');
          c.close();
        }
        t.is(await verify(server.address, states), null, `after restart ${round}`);
        const todo = states.map((s, m) => (s.kind === 'committed' ? -1 : m)).filter((m) => m >= 0);
        if (todo.length === 0) break;
        const address = server.address;
        const queue = [...todo];
        const workers = Array.from({ length: CONCURRENCY }, async () => {
          for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
            await writeMap(address, m, nextAttempt++, r, states);
          }
        });
        const all = Promise.allSettled(workers);
        if (!final) {
          await new Promise((resolve) => setTimeout(resolve, randInt(r, 30, 300)));
          const inflight = states.filter((s) => s.kind === 'inflight').length;
          const committed = states.filter((s) => s.kind === 'committed').length;
          await killServer(server);
          kills++;
          t.log(`round ${round}: killed with ${committed} maps committed, ${inflight} commits in flight`);
          await all;
        } else {
          const results = await all;
          for (const res of results) t.is(res.status, 'fulfilled', res.status === 'rejected' ? String(res.reason) : '');
          t.is(await verify(server.address, states), null, 'final read');
          await stopServer(server);
        }
        server = null;
      }
      t.true(states.every((s) => s.kind === 'committed'), 'every map committed in the end');
      t.true(kills >= 2, `the server was killed ${kills} times`);
    } finally {
      if (server !== null) await killServer(server);
      await removeDir(dataDir);
    }
  });
}
