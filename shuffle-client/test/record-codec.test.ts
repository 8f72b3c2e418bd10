import test from 'ava';
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import { decodeRecords, encodeRecords, forEachRecord, RECORD_LENGTH_BYTES } from '../src/record-codec.js';

const codeOf = (e: unknown): string | undefined => (e instanceof PegasusError ? e.code : undefined);

test('records round trip, including empty and long ones', (t) => {
  const records = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello world'), Buffer.alloc(100_000, 7), Buffer.from([0, 1, 2])];
  const raw = encodeRecords(records);
  t.is(raw.length, records.reduce((n, r) => n + RECORD_LENGTH_BYTES + r.length, 0));
  const back = decodeRecords(raw);
  t.is(back.length, records.length);
  for (let i = 0; i < records.length; i++) t.true(back[i]!.equals(records[i]!));
});

test('an empty block holds no records', (t) => {
  t.deepEqual(decodeRecords(Buffer.alloc(0)), []);
});

test('truncated record is CORRUPT_DATA', (t) => {
  const raw = encodeRecords([Buffer.from('abc'), Buffer.from('defgh')]);
  const err = t.throws(() => decodeRecords(raw.subarray(0, raw.length - 1)));
  t.is(codeOf(err), 'CORRUPT_DATA');
  t.is((err as PegasusError).wireCode, ErrorCode.CORRUPT_DATA);
});

test('trailing bytes shorter than a length prefix are CORRUPT_DATA', (t) => {
  const raw = Buffer.concat([encodeRecords([Buffer.from('abc')]), Buffer.from([1, 0])]);
  t.is(codeOf(t.throws(() => decodeRecords(raw))), 'CORRUPT_DATA');
});

test('a length past the end is CORRUPT_DATA and yields nothing from decodeRecords', (t) => {
  const raw = encodeRecords([Buffer.from('abc')]);
  raw.writeUInt32LE(0xffff_ffff, 0);
  t.is(codeOf(t.throws(() => decodeRecords(raw))), 'CORRUPT_DATA');
});

test('forEachRecord counts records and passes views', (t) => {
  const raw = encodeRecords([Buffer.from('x'), Buffer.from('yy')]);
  const seen: string[] = [];
  t.is(forEachRecord(raw, (r) => seen.push(r.toString())), 2);
  t.deepEqual(seen, ['x', 'yy']);
});
