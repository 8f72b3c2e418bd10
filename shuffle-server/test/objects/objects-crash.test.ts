// Crash test of the objects tenant against a model: workers create, overwrite,
// rename (files and directories), make and delete (recursively) paths, each in
// a subtree of its own, while the server is killed with SIGKILL at a random
// moment. After each restart every subtree must equal the model either before
// or after the worker's one operation in flight at the kill (acknowledged ones
// applied; none half applied: no half-renamed directory, no partly visible
// file), every file must read back exactly, and the bytes of every file that
// is no longer visible must have been reclaimed.
import test from 'ava';
import { createHash } from 'node:crypto';
import { Connection } from '../../../shuffle-client/src/connection.js';
import { ObjectReader } from '../../../shuffle-client/src/object-reader.js';
import { ObjectWriter } from '../../../shuffle-client/src/object-writer.js';
import { deletePath, listDir, makeDirs, renamePath } from '../../../shuffle-client/src/namespace.js';
import { PathKind } from '../../../schemas/ts/messages.js';
import { objectLogDirs } from '../helpers/object-logs.js';
import { killServer, removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { randInt, rng } from '../helpers/shuffle-model.js';
import { OBJECT_INLINE_BYTES_MAX } from '../../src/limits.js';

const WORKERS = 4;
/** Files up to this size are stored inline in the index (shuffle-server/src/limits.ts OBJECT_INLINE_BYTES_MAX). */
const INLINE_BYTES_MAX = OBJECT_INLINE_BYTES_MAX;
const ROUNDS = 8;

/** A subtree's content: path (relative to the worker's root) -> file digest, or 'dir'. */
type Tree = Map<string, string>;

function digest(b: Buffer): string {
  return `${b.length}:${createHash('sha256').update(b).digest('hex').slice(0, 16)}`;
}

function render(t: Tree): string {
  return [...t.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('\n');
}

function dirsOf(t: Tree): string[] {
  return ['', ...[...t.entries()].filter(([, v]) => v === 'dir').map(([k]) => k)];
}

function under(t: Tree, prefix: string): string[] {
  return [...t.keys()].filter((k) => k === prefix || k.startsWith(`${prefix}/`));
}

/** The tree as the server holds it under `root`. */
async function readTree(c: Connection, root: string): Promise<Tree> {
  const out: Tree = new Map();
  const walk = async (rel: string): Promise<void> => {
    for await (const e of listDir(c, `${root}${rel}`)) {
      const p = `${rel}/${e.name}`;
      if (e.kind === PathKind.DIRECTORY) {
        out.set(p, 'dir');
        await walk(p);
      } else {
        const r = await ObjectReader.open(c, `${root}${p}`);
        out.set(p, digest(await r.read(0, r.length)));
      }
    }
  };
  await walk('');
  return out;
}

interface Worker {
  root: string;
  tree: Tree;
  /** The tree if the operation in flight at the kill took effect. */
  inflight: Tree | null;
  name: number;
}

/** One valid random operation: applies it on the server and returns the model after it. */
async function step(c: Connection, w: Worker, r: () => number): Promise<void> {
  const t = w.tree;
  const dirs = dirsOf(t);
  const files = [...t.entries()].filter(([, v]) => v !== 'dir').map(([k]) => k);
  const fresh = (): string => `${dirs[randInt(r, 0, dirs.length)]}/n${w.name++}`;
  const after = new Map(t);
  const kind = randInt(r, 0, 10);
  if (kind <= 3 || t.size === 0) {
    // Create (or overwrite an existing file).
    const overwrite = files.length > 0 && kind === 3;
    const path = overwrite ? files[randInt(r, 0, files.length)]! : fresh();
    const size = randInt(r, 0, 3) === 0 ? randInt(r, 0, 300) : randInt(r, 0, 2) === 0 ? randInt(r, 1, 80_000) : randInt(r, 1, 700_000);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) data[i] = (r() * 256) | 0;
    if (size >= 4) data.writeUInt32LE((r() * 0xffffffff) >>> 0, size - 4);
    after.set(path, digest(data));
    w.inflight = after;
    const wr = await ObjectWriter.create(c, `${w.root}${path}`, { overwrite, chunkBytes: 128 * 1024 });
    await wr.write(data);
    await wr.close();
  } else if (kind <= 5) {
    const path = fresh();
    after.set(path, 'dir');
    w.inflight = after;
    await makeDirs(c, `${w.root}${path}`);
  } else if (kind <= 7) {
    // Rename a file or a directory (everything under it) to a fresh name in a directory not under it.
    const all = [...t.keys()];
    const from = all[randInt(r, 0, all.length)]!;
    const targets = dirs.filter((d) => d !== from && !d.startsWith(`${from}/`));
    const to = `${targets[randInt(r, 0, targets.length)]}/n${w.name++}`;
    for (const k of under(t, from)) {
      after.delete(k);
      after.set(to + k.slice(from.length), t.get(k)!);
    }
    w.inflight = after;
    await renamePath(c, `${w.root}${from}`, `${w.root}${to}`);
  } else {
    const all = [...t.keys()];
    const path = all[randInt(r, 0, all.length)]!;
    for (const k of under(t, path)) after.delete(k);
    w.inflight = after;
    if (!(await deletePath(c, `${w.root}${path}`, { recursive: true }))) throw new Error(`delete of ${path} found nothing`);
  }
  w.tree = after;
  w.inflight = null;
}

test('kill -9 during creates, overwrites, renames and deletes never leaves a half-applied namespace', async (t) => {
  t.timeout(10 * 60_000);
  const r = rng(0x0b1ec75);
  let server: ServerProcess = await startServer();
  const dataDir = server.dataDir;
  const outcomes = { applied: 0, lost: 0 };
  const workers: Worker[] = Array.from({ length: WORKERS }, (_, i) => ({ root: `/w${i}`, tree: new Map(), inflight: null, name: 0 }));
  try {
    const setup = await Connection.connect(server.address);
    for (const w of workers) await makeDirs(setup, w.root);
    await setup.close();
    for (let round = 0; round <= ROUNDS; round++) {
      const last = round === ROUNDS;
      const stop = { now: false };
      const namesAtStart = workers.reduce((n, w) => n + w.name, 0);
      const runs = workers.map(async (w) => {
        let c: Connection | null = null;
        try {
          c = await Connection.connect(server.address);
          for (let i = 0; last ? i < 15 : !stop.now; i++) await step(c, w, r);
        } catch (err) {
          if (last || !stop.now) throw err;
        } finally {
          await c?.close().catch(() => undefined);
        }
      });
      if (!last) {
        // Kill once the workers made some progress, at a moment the protocol does not know about.
        const opsBefore = randInt(r, 3, 40);
        while (workers.reduce((n, w) => n + w.name, 0) - namesAtStart < opsBefore) await new Promise((res) => setTimeout(res, 5));
        stop.now = true;
        await killServer(server);
      }
      await Promise.all(runs);
      if (!last) server = await startServer({ dataDir });
      const c = await Connection.connect(server.address);
      let files = 0;
      let dirs = 0;
      for (const w of workers) {
        const actual = render(await readTree(c, w.root));
        const before = render(w.tree);
        const after = w.inflight === null ? null : render(w.inflight);
        if (actual === before) {
          if (w.inflight !== null) outcomes.lost++;
          w.inflight = null;
        } else if (after !== null && actual === after) {
          outcomes.applied++;
          w.tree = w.inflight!;
          w.inflight = null;
        } else {
          t.fail(`round ${round}, ${w.root}: the namespace is neither before nor after the operation in flight\nactual:\n${actual}\nbefore:\n${before}\nafter:\n${after ?? '(none in flight)'}`);
          return;
        }
        // Files over the inline bound have a log of their own; smaller ones live in the index.
        files += [...w.tree.values()].filter((v) => v !== 'dir' && Number(v.split(':')[0]) > INLINE_BYTES_MAX).length;
        dirs += [...w.tree.values()].filter((v) => v === 'dir').length;
      }
      t.log(`round ${round}: ${files} files, ${dirs} directories; in-flight operations so far applied ${outcomes.applied}, not applied ${outcomes.lost}`);
      await c.close();
      t.is(await objectLogDirs(dataDir), files, `round ${round}: one log per visible file over ${INLINE_BYTES_MAX} bytes, the others reclaimed`);
    }
    t.pass();
  } finally {
    await stopServer(server);
    await removeDir(dataDir);
  }
});
