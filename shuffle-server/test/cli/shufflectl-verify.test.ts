// shufflectl verify against a real server: a clean shuffle verifies (exit 0);
// a byte flipped in a block's data in a segment file under the data dir is
// found (exit 1, CHECKSUM_MISMATCH or CORRUPT_DATA listed).
import test from 'ava';
import { flipDataByte, listSegmentBlocks } from '../../../shuffle-client/test/segment-files.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { ctl, parsed, pushShuffle } from './ctl.js';

let server: ServerProcess;

test.before(async () => {
  server = await startServer();
  await pushShuffle(server.address, { appId: 'clean', shuffleId: 1 });
  await pushShuffle(server.address, { appId: 'clean', shuffleId: 2 });
  await pushShuffle(server.address, { appId: 'damaged', shuffleId: 3 });
});

test.after.always(async () => {
  await stopServer(server);
  await removeDir(server.dataDir);
});

interface VerifyDoc {
  ok: boolean;
  totals: { shuffles: number; runs: number; blocks: number; bytes: number; errors: number };
  errors: Array<{ appId: string; shuffleId: number; code: string }>;
}

test.serial('verify of clean shuffles checks every run and block and exits 0', async (t) => {
  const table = await ctl(['--server', server.address, 'verify', '--app', 'clean']);
  t.is(table.code, 0, table.stdout + table.stderr);
  t.regex(table.stdout, /^SERVER\s+APP\s+SHUFFLE\s+RUNS\s+BLOCKS\s+BYTES\s+ERRORS/m);
  t.regex(table.stdout, /verified 2 shuffles: .*; 0 errors/);
  const doc = parsed<VerifyDoc>(await ctl(['--server', server.address, '--json', 'verify', '--app', 'clean', '--shuffle', '2']));
  t.true(doc.ok);
  t.is(doc.totals.shuffles, 1);
  const blocks = await listSegmentBlocks(server.dataDir, 'clean', 2);
  t.is(doc.totals.blocks, blocks.length);
  t.true(doc.totals.runs > 0 && doc.totals.bytes > 0);
});

test.serial('verify of a shuffle with a flipped byte on disk exits 1 and lists CHECKSUM_MISMATCH or CORRUPT_DATA', async (t) => {
  const blocks = await listSegmentBlocks(server.dataDir, 'damaged', 3);
  await flipDataByte(blocks[1]!);
  const table = await ctl(['--server', server.address, 'verify']);
  t.is(table.code, 1, table.stdout);
  t.regex(table.stdout, /damaged\/3: (CHECKSUM_MISMATCH|CORRUPT_DATA): /);
  const doc = parsed<VerifyDoc>(await ctl(['--server', server.address, '--json', 'verify']));
  t.false(doc.ok);
  t.is(doc.totals.shuffles, 3);
  t.true(doc.errors.length >= 1);
  t.true(doc.errors.every((e) => e.appId === 'damaged' && e.shuffleId === 3 && ['CHECKSUM_MISMATCH', 'CORRUPT_DATA'].includes(e.code)));
});

test.serial('verify of an application or shuffle that no server has is UNKNOWN_APP / UNKNOWN_SHUFFLE', async (t) => {
  const app = await ctl(['--server', server.address, 'verify', '--app', 'nobody']);
  t.is(app.code, 1);
  t.regex(app.stderr, /^shufflectl: UNKNOWN_APP: /m);
  const shuffle = await ctl(['--server', server.address, '--json', 'verify', '--app', 'clean', '--shuffle', '42']);
  t.is(shuffle.code, 1);
  t.is(parsed<{ error: { code: string } }>(shuffle).error.code, 'UNKNOWN_SHUFFLE');
});
