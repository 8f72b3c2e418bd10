// Storage tiers in a real server process: a pmem tier survives SIGKILL, a full
// first tier spills to the next, all tiers full is DISK_FULL with the server up,
// and a pmem tier without the native module falls back to file writes.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import test from 'ava';

import { ErrorCode } from '../../../schemas/ts/errors.js';
import { RawClient, makePush } from '../helpers/raw-client.js';
import { httpGet, killServer, makeDataDir, removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { checkRead, key, makeBatch, pushBatch, randInt, readRange, rng, type ModelBlock } from '../helpers/shuffle-model.js';

const MiB = 1024 * 1024;

/** Segment files (name → size) under a tier directory. */
async function segmentFiles(tierDir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    let names;
    try {
      names = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const n of names) {
      if (n.isDirectory()) await walk(join(d, n.name));
      else if (n.name.endsWith('.seg')) out.push(join(d, n.name));
    }
  }
  await walk(join(tierDir, 'shuffles'));
  return out;
}

function metric(body: string, name: string, tier: string): number | null {
  for (const line of body.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(`tier="${tier}"`)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

async function commitMaps(c: RawClient, app: string, shuffleId: number, maps: number, partitions: number, seed: number, maxBytes: number): Promise<ModelBlock[]> {
  const r = rng(seed);
  const all: ModelBlock[] = [];
  for (let m = 0; m < maps; m++) {
    const batches = 4;
    for (let b = 0; b < batches; b++) {
      const batch = makeBatch(r, m, 1, b, partitions, 8, maxBytes);
      await pushBatch(c, app, shuffleId, batch);
      all.push(...batch);
    }
    const f = await c.request({ type: 'CommitMap', appId: app, shuffleId, mapId: m, attempt: 1, batchCount: batches });
    if (f.message.type !== 'CommitAck') throw new Error(`commit of map ${m}: ${JSON.stringify(f.message)}`);
  }
  return all;
}

test('PmemTierSurvivesSigkill: acknowledged commits written through libpmem2 are served after a restart, uncommitted ones never', async (t) => {
  const dataDir = await makeDataDir();
  const pmemDir = join(dataDir, 'pmem');
  await fsp.mkdir(pmemDir);
  const args = ['--tiers', `pmem:${pmemDir}:8g`, '--memory-budget-bytes', '64MiB', '--segment-bytes-max', '16MiB'];
  const APP = 'app-pmem-crash';
  const NUM_MAPS = 40;
  const NUM_PARTITIONS = 8;
  const r = rng(77);
  type State = { kind: 'open' } | { kind: 'committed' | 'inflight'; blocks: ModelBlock[] };
  const states: State[] = Array.from({ length: NUM_MAPS }, () => ({ kind: 'open' }));
  let attempt = 1;
  let server: ServerProcess | null = null;
  const verify = async (address: string): Promise<string | null> => {
    const c = await RawClient.connect(address);
    try {
      const got = await readRange(c, APP, 1, 0, NUM_PARTITIONS, 0, NUM_MAPS);
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
        if (have === undefined) states[m] = { kind: 'open' };
        else if (have.size === s.blocks.length && s.blocks.every((b) => have.has(key(b)))) states[m] = { kind: 'committed', blocks: s.blocks };
        else return `map ${m} served partially: ${have.size} of ${s.blocks.length} blocks`;
      }
      const expected: ModelBlock[] = [];
      for (const s of states) if (s.kind === 'committed') expected.push(...s.blocks);
      return checkRead(got, expected);
    } finally {
      c.close();
    }
  };
  try {
    for (let round = 0; round < 4; round++) {
      const final = round === 3;
      server = await startServer({ dataDir, args });
      if (round === 0) {
        const c = await RawClient.connect(server.address);
        await c.request({ type: 'RegisterShuffle', appId: APP, shuffleId: 1, numMaps: NUM_MAPS, numPartitions: NUM_PARTITIONS });
        c.close();
        t.is(metric((await httpGet(server.address, '/metrics')).body, 'pegasus_tier_pmem_writes', `pmem:${pmemDir}`), 1);
      }
      t.is(await verify(server.address), null, `after restart ${round}`);
      const queue = states.map((s, m) => (s.kind === 'committed' ? -1 : m)).filter((m) => m >= 0);
      const address = server.address;
      const workers = Array.from({ length: 4 }, async () => {
        for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
          const c = await RawClient.connect(address);
          try {
            const a = attempt++;
            const blocks: ModelBlock[] = [];
            const batches = randInt(r, 2, 6);
            for (let b = 0; b < batches; b++) {
              const batch = makeBatch(r, m, a, b, NUM_PARTITIONS, 6, 64 * 1024);
              await pushBatch(c, APP, 1, batch);
              blocks.push(...batch);
            }
            states[m] = { kind: 'inflight', blocks };
            const f = await c.request({ type: 'CommitMap', appId: APP, shuffleId: 1, mapId: m, attempt: a, batchCount: batches });
            if (f.message.type !== 'CommitAck' || !f.message.won) throw new Error(`commit ${m}: ${JSON.stringify(f.message)}`);
            states[m] = { kind: 'committed', blocks };
          } finally {
            c.close();
          }
        }
      });
      const all = Promise.allSettled(workers);
      if (!final) {
        await new Promise((res) => setTimeout(res, randInt(r, 50, 300)));
        await killServer(server);
        await all;
      } else {
        for (const res of await all) t.is(res.status, 'fulfilled', res.status === 'rejected' ? String(res.reason) : '');
        t.is(await verify(server.address), null, 'final read');
        await stopServer(server);
      }
      server = null;
    }
    t.true(states.every((s) => s.kind === 'committed'));
    t.true((await segmentFiles(pmemDir)).length > 0, 'segments are on the pmem tier');
    t.deepEqual(await segmentFiles(dataDir).then((f) => f.filter((p) => !p.startsWith(pmemDir))), [], 'and nowhere else');
  } finally {
    if (server !== null) await killServer(server);
    await removeDir(dataDir);
  }
});

test('FirstTierFullSpillsToTheNextTier; reads before and after a restart see everything', async (t) => {
  const dataDir = await makeDataDir();
  const a = join(dataDir, 'fast');
  const b = join(dataDir, 'slow');
  await fsp.mkdir(a);
  await fsp.mkdir(b);
  const args = ['--tiers', `pmem:${a}:32m,hdd:${b}:1g`, '--segment-bytes-max', '16MiB', '--memory-budget-bytes', '64MiB'];
  let server: ServerProcess | null = await startServer({ dataDir, args });
  try {
    const c = await RawClient.connect(server.address);
    await c.request({ type: 'RegisterShuffle', appId: 'app-spill', shuffleId: 1, numMaps: 24, numPartitions: 4 });
    const committed = await commitMaps(c, 'app-spill', 1, 24, 4, 9, 200_000);
    t.is(checkRead(await readRange(c, 'app-spill', 1, 0, 4, 0, 24), committed), null);
    c.close();
    t.is((await segmentFiles(a)).length, 2, 'the first tier holds two 16 MiB segments');
    t.true((await segmentFiles(b)).length >= 1, 'the rest went to the second tier');
    const m = (await httpGet(server.address, '/metrics')).body;
    t.true(metric(m, 'pegasus_tier_used_bytes', `pmem:${a}`)! > 16 * MiB);
    t.true(metric(m, 'pegasus_tier_used_bytes', `hdd:${b}`)! > 0);
    t.is(metric(m, 'pegasus_tier_capacity_bytes', `pmem:${a}`), 32 * MiB);
    await stopServer(server);
    server = await startServer({ dataDir, args });
    const c2 = await RawClient.connect(server.address);
    t.is(checkRead(await readRange(c2, 'app-spill', 1, 0, 4, 0, 24), committed), null);
    c2.close();
  } finally {
    if (server !== null) await stopServer(server);
    await removeDir(dataDir);
  }
});

test('EveryTierFullIsDiskFull; the server stays up, serves what was committed and takes pushes again once space is freed', async (t) => {
  const dataDir = await makeDataDir();
  const a = join(dataDir, 'only');
  await fsp.mkdir(a);
  let server: ServerProcess | null = await startServer({ dataDir, args: ['--tiers', `ssd:${a}:32m`, '--segment-bytes-max', '16MiB', '--memory-budget-bytes', '64MiB'] });
  try {
    const c = await RawClient.connect(server.address);
    await c.request({ type: 'RegisterShuffle', appId: 'app-full', shuffleId: 1, numMaps: 1, numPartitions: 2 });
    const committed = await commitMaps(c, 'app-full', 1, 1, 2, 3, 50_000);
    await c.request({ type: 'RegisterShuffle', appId: 'app-full', shuffleId: 2, numMaps: 100, numPartitions: 2 });
    const block = Buffer.alloc(MiB, 7);
    let full: string | null = null;
    for (let map = 0; map < 100 && full === null; map++) {
      for (let batch = 0; batch < 4 && full === null; batch++) {
        const p = makePush('app-full', 2, map, 1, batch, [{ partition: batch % 2, data: block }]);
        const f = await c.request(p.message, p.body);
        if (f.message.type === 'Error') full = `${f.message.code}: ${f.message.message}`;
      }
      if (full !== null) break;
      const f = await c.request({ type: 'CommitMap', appId: 'app-full', shuffleId: 2, mapId: map, attempt: 1, batchCount: 4 });
      if (f.message.type === 'Error') full = `${f.message.code}: ${f.message.message}`;
    }
    t.not(full, null, 'the tier filled up');
    t.true(full!.startsWith(`${ErrorCode.DISK_FULL}:`), full!);
    t.regex(full!, /tier|full/);
    t.is((await httpGet(server.address, '/healthz')).status, 200);
    t.is(checkRead(await readRange(c, 'app-full', 1, 0, 2, 0, 1), committed), null);
    t.is((await c.request({ type: 'UnregisterShuffle', appId: 'app-full', shuffleId: 2 })).message.type, 'Ack');
    await c.request({ type: 'RegisterShuffle', appId: 'app-full', shuffleId: 3, numMaps: 1, numPartitions: 2 });
    let accepted = false;
    for (let i = 0; i < 40 && !accepted; i++) {
      const p = makePush('app-full', 3, 0, 1, 0, [{ partition: 0, data: Buffer.alloc(1000, 1) }]);
      accepted = (await c.request(p.message, p.body)).message.type === 'Ack';
      if (!accepted) await new Promise((res) => setTimeout(res, 100));
    }
    t.true(accepted, 'pushes are taken again once the tier has room');
    t.is((await c.request({ type: 'CommitMap', appId: 'app-full', shuffleId: 3, mapId: 0, attempt: 1, batchCount: 1 })).message.type, 'CommitAck');
    c.close();
  } finally {
    if (server !== null) await stopServer(server);
    await removeDir(dataDir);
  }
});

test('PmemTierWithoutTheNativeModuleFallsBackToFileWrites, says so once, and loses nothing', async (t) => {
  const dataDir = await makeDataDir();
  const p = join(dataDir, 'pmem');
  await fsp.mkdir(p);
  const args = ['--tiers', `pmem:${p}:1g`, '--log-level', 'warn'];
  let server: ServerProcess | null = await startServer({ dataDir, args, env: { PEGASUS_NATIVE: 'off' } });
  try {
    const c = await RawClient.connect(server.address);
    await c.request({ type: 'RegisterShuffle', appId: 'app-nonative', shuffleId: 1, numMaps: 4, numPartitions: 3 });
    const committed = await commitMaps(c, 'app-nonative', 1, 4, 3, 5, 20_000);
    c.close();
    t.is(metric((await httpGet(server.address, '/metrics')).body, 'pegasus_tier_pmem_writes', `pmem:${p}`), 0);
    await stopServer(server);
    const warnings = server.stderr().split('\n').filter((l) => l.includes('pmem tier written with ordinary file writes'));
    t.is(warnings.length, 1, server.stderr());
    t.regex(warnings[0]!, /PEGASUS_NATIVE=off/);
    // Written without preallocation: each file is exactly its durable length.
    for (const f of await segmentFiles(p)) t.true((await fsp.stat(f)).size < 16 * MiB);
    server = await startServer({ dataDir, args });
    const c2 = await RawClient.connect(server.address);
    t.is(checkRead(await readRange(c2, 'app-nonative', 1, 0, 3, 0, 4), committed), null, 'and a server with the module reads it back');
    c2.close();
  } finally {
    if (server !== null) await stopServer(server);
    await removeDir(dataDir);
  }
});
