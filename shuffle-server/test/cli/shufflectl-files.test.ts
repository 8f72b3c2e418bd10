// shufflectl's file commands (put, get, ls, stat, du, rm) against real servers:
// one server, and two, where each top-level directory lives on the server its
// name hashes to (path-owner.ts) and the root lists both.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerIndex } from '../../../shuffle-client/src/path-owner.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { ctl, parsed } from './ctl.js';

let a: ServerProcess;
let b: ServerProcess;
let dir: string;

test.before(async () => {
  [a, b] = await Promise.all([startServer(), startServer()]);
  dir = await mkdtemp(join(tmpdir(), 'pegasus-ctl-files-'));
});

test.after.always(async () => {
  await Promise.all([stopServer(a), stopServer(b)]);
  await Promise.all([removeDir(a.dataDir), removeDir(b.dataDir), rm(dir, { recursive: true, force: true })]);
});

test.serial('put, stat, ls, get, du and rm on one server, as tables and as JSON', async (t) => {
  const on = (...args: string[]): string[] => ['--server', a.address, ...args];
  const local = join(dir, 'in.bin');
  const data = randomBytes(2_500_000);
  await writeFile(local, data);
  const put = await ctl(on('put', local, '/ctl/data/in.bin'));
  t.is(put.code, 0, put.stderr);
  t.regex(put.stdout, /\/ctl\/data\/in\.bin: 2\.\d+ MiB/);
  const again = await ctl(on('put', local, '/ctl/data/in.bin'));
  t.is(again.code, 1);
  t.regex(again.stderr, /shufflectl: ALREADY_EXISTS/);
  t.is((await ctl(on('put', local, '/ctl/data/in.bin', '--overwrite'))).code, 0);

  const stat = parsed<{ ok: boolean; kind: string; length: number; tier: string }>(await ctl(on('--json', 'stat', '/ctl/data/in.bin')));
  t.true(stat.ok);
  t.is(stat.kind, 'file');
  t.is(stat.length, data.length);
  t.not(stat.tier, '');
  t.regex((await ctl(on('stat', '/ctl/data'))).stdout, /kind\s+directory/);

  await writeFile(join(dir, 'small'), 'x');
  t.is((await ctl(on('put', join(dir, 'small'), '/ctl/a-small'))).code, 0);
  const ls = await ctl(on('ls', '/ctl'));
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stdout, /KIND\s+SIZE\s+MODIFIED\s+NAME/);
  const names = parsed<{ entries: Array<{ name: string; kind: string }> }>(await ctl(on('--json', 'ls', '/ctl'))).entries.map((e) => `${e.kind}:${e.name}`);
  t.deepEqual(names, ['file:a-small', 'directory:data']);

  const out = join(dir, 'out.bin');
  const get = await ctl(on('get', '/ctl/data/in.bin', out));
  t.is(get.code, 0, get.stderr);
  t.deepEqual(await readFile(out), data);
  t.false((await readdir(dir)).some((n) => n.includes('.pegasus-')), 'no temporary file left');

  const du = parsed<{ bytes: number; files: number; directories: number }>(await ctl(on('--json', 'du', '/ctl')));
  t.deepEqual({ bytes: du.bytes, files: du.files, directories: du.directories }, { bytes: data.length + 1, files: 2, directories: 1 });

  const rmDir = await ctl(on('rm', '/ctl'));
  t.is(rmDir.code, 1);
  t.regex(rmDir.stderr, /DIRECTORY_NOT_EMPTY/);
  t.is((await ctl(on('rm', '/ctl', '--recursive'))).code, 0);
  const missing = await ctl(on('--json', 'rm', '/ctl'));
  t.is(missing.code, 1);
  t.is(parsed<{ error: { code: string } }>(missing).error.code, 'NOT_FOUND');
  t.is((await ctl(on('stat', '/ctl'))).code, 1);
  t.is((await ctl(on('get', '/nothing', join(dir, 'never')))).code, 1);
  t.is((await ctl(on('ls'))).code, 2, 'a missing PATH is a usage error');
  t.is((await ctl(on('ls', '/a', '/b'))).code, 2);
  t.is((await ctl(on('stat', 'relative'))).code, 1);
});

test.serial('with two servers each top-level directory lives on its hashed owner; the root lists both', async (t) => {
  const servers = [a.address, b.address];
  const on = (...args: string[]): string[] => ['--server', servers.join(','), ...args];
  // Find one top-level name owned by each server.
  const names: string[] = [];
  for (let i = 0; names.length < 2; i++) {
    const n = `top${i}`;
    if (ownerIndex(`/${n}`, 2) === names.length) names.push(n);
  }
  await writeFile(join(dir, 'f'), 'hello');
  for (const n of names) t.is((await ctl(on('put', join(dir, 'f'), `/${n}/f`))).code, 0);
  const onA = parsed<{ entries: Array<{ name: string }> }>(await ctl(['--server', a.address, '--json', 'ls', '/'])).entries.map((e) => e.name);
  const onB = parsed<{ entries: Array<{ name: string }> }>(await ctl(['--server', b.address, '--json', 'ls', '/'])).entries.map((e) => e.name);
  t.true(onA.includes(names[0]!) && !onA.includes(names[1]!), `server a holds ${onA.join(',')}`);
  t.true(onB.includes(names[1]!) && !onB.includes(names[0]!), `server b holds ${onB.join(',')}`);
  const both = parsed<{ entries: Array<{ name: string }> }>(await ctl(on('--json', 'ls', '/'))).entries.map((e) => e.name);
  for (const n of names) t.true(both.includes(n));
  t.is(parsed<{ files: number }>(await ctl(on('--json', 'du', '/'))).files, 2);
  const out = join(dir, 'g');
  t.is((await ctl(on('get', `/${names[1]}/f`, out))).code, 0);
  t.is(await readFile(out, 'utf8'), 'hello');
});

test.serial('quota shows and sets quotas; a write past one fails with QUOTA_EXCEEDED', async (t) => {
  const on = (...args: string[]): string[] => ['--server', a.address, ...args];
  t.is((await ctl(on('quota', '/lim', '--bytes', '1M', '--objects', '10'))).code, 0);
  const shown = parsed<{ quotas: Array<{ dir: string; bytesMax: number; objectsMax: number; server: string }> }>(await ctl(on('--json', 'quota')));
  t.deepEqual(shown.quotas.map((q) => [q.dir, q.bytesMax, q.objectsMax, q.server]), [['lim', 1024 * 1024, 10, a.address]]);
  t.regex((await ctl(on('quota'))).stdout, /DIR\s+BYTES\s+BYTES MAX\s+OBJECTS\s+OBJECTS MAX/);
  const big = join(dir, 'big');
  await writeFile(big, randomBytes(2 * 1024 * 1024));
  const over = await ctl(on('put', big, '/lim/big'));
  t.is(over.code, 1);
  t.regex(over.stderr, /QUOTA_EXCEEDED/);
  t.is((await ctl(on('quota', 'lim', '--bytes', '0', '--objects', '0'))).code, 0);
  t.regex((await ctl(on('quota'))).stdout, /no quotas/);
  t.is((await ctl(on('put', big, '/lim/big'))).code, 0);
  t.is((await ctl(on('quota', '--bytes', '1M'))).code, 2, '--bytes needs DIR');
  t.is((await ctl(on('quota', 'lim'))).code, 2, 'DIR needs a limit');
  t.is((await ctl(on('quota', 'lim', '--bytes', 'lots'))).code, 2);
});
