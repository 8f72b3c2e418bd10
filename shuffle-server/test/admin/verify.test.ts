// POST /api/v1/verify against real stored data: a clean shuffle verifies with
// zero errors and exact counts; a byte flipped in a block's data, and one in a
// run header, are found and named, and the server goes on.
import test from 'ava';
import { openSync, readSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.js';
import { httpGet, removeDir, startServer, stopServer } from '../helpers/server-process.js';
import { api, register, writeCommitted } from './admin-helpers.js';

/** Segment header 32 bytes, run header 32, block header 48 (store/segment-format.ts). */
const FIRST_BLOCK_HEADER_AT = 64;
const FIRST_BLOCK_DATA_AT = 112;

function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0x5a;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

function readU32(path: string, offset: number): number {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, offset);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

function firstSegment(dataDir: string, appId: string, shuffleId: number): string {
  const dir = join(dataDir, 'shuffles', appId, String(shuffleId));
  const seg = readdirSync(dir).filter((n) => n.endsWith('.seg')).sort()[0]!;
  return join(dir, seg);
}

test('verify finds a byte flipped in a stored block and a corrupt run header; a clean shuffle verifies with zero errors', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-v', 1, 1, 4)).type, 'Ack');
    t.is((await register(c, 'app-v', 2, 2, 4)).type, 'Ack');
    await writeCommitted(c, 'app-v', 1, 0, 3, 4);
    const clean = [...await writeCommitted(c, 'app-v', 2, 0, 3, 4), ...await writeCommitted(c, 'app-v', 2, 1, 2, 4)];

    const ok = await api(s.address, 'POST', '/api/v1/verify', { body: { app: 'app-v', shuffle: 2 } });
    t.is(ok.status, 200, ok.text);
    t.deepEqual(ok.body['errors'], []);
    t.is(ok.body['shuffles'], 1);
    t.is(ok.body['blocks'], clean.length);
    t.is(ok.body['bytes'], clean.reduce((n, b) => n + b.length, 0));
    t.true((ok.body['runs'] as number) >= 1);

    // Flip one byte in the data of the first block of shuffle 1.
    const seg1 = firstSegment(s.dataDir, 'app-v', 1);
    const storedLength = readU32(seg1, FIRST_BLOCK_HEADER_AT + 36);
    t.true(storedLength > 0, 'the first block has data to corrupt');
    flipByte(seg1, FIRST_BLOCK_DATA_AT + Math.floor(storedLength / 2));

    const all = await api(s.address, 'POST', '/api/v1/verify', { body: {} });
    t.is(all.status, 200, all.text);
    t.is(all.body['shuffles'], 2);
    const errors = all.body['errors'] as Array<Record<string, unknown>>;
    t.is(errors.length, 1, JSON.stringify(errors));
    t.is(errors[0]!['appId'], 'app-v');
    t.is(errors[0]!['shuffleId'], 1);
    t.is(errors[0]!['code'], 'CHECKSUM_MISMATCH');
    t.regex(errors[0]!['message'] as string, /CRC32C/);
    // Verify reads every block even of a corrupt run: the counts still cover everything.
    t.true((all.body['blocks'] as number) > clean.length);

    // A flipped run header (partition field) is CORRUPT_DATA, and the rest of the shuffle is still checked.
    const seg2 = firstSegment(s.dataDir, 'app-v', 2);
    flipByte(seg2, 32 + 8);
    const two = await api(s.address, 'POST', '/api/v1/verify', { body: { app: 'app-v', shuffle: 2 } });
    const errors2 = two.body['errors'] as Array<Record<string, unknown>>;
    t.is(errors2.length, 1, JSON.stringify(errors2));
    t.is(errors2[0]!['code'], 'CORRUPT_DATA');
    t.is(errors2[0]!['shuffleId'], 2);
    t.true((two.body['runs'] as number) >= 1);

    // Named targets that do not exist are 404; the server is still up.
    t.is((await api(s.address, 'POST', '/api/v1/verify', { body: { app: 'app-v', shuffle: 9 } })).body['code'], 'UNKNOWN_SHUFFLE');
    t.is((await api(s.address, 'POST', '/api/v1/verify', { body: { app: 'app-x' } })).body['code'], 'UNKNOWN_APP');
    t.is((await httpGet(s.address, '/healthz')).status, 200);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});
