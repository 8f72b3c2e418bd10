import test from 'ava';
import * as flatbuffers from 'flatbuffers';

import { crc32c, crc32cNative, crc32cPortable, type Crc32c } from '../../native/ts/crc32c.js';
import { BlockHeader as FbBlockHeader } from '../generated/ts/pegasus/wire/block-header.js';
import { Message as FbMessage } from '../generated/ts/pegasus/wire/message.js';
import { decodeFrame, encodeFrame } from '../ts/codec.js';
import { ErrorCode, PegasusError } from '../ts/errors.js';
import { checkAppId } from '../ts/ids.js';
import { Codec, type Message } from '../ts/messages.js';
import { BLOCK_HEADER_BYTES, decodeBlockHeader, encodeBlockHeader } from '../ts/run-format.js';
import {
  codeOf,
  messageFromJson, messageToJson, readVectors, type BlockHeaderVector, type Crc32cVector, type FrameVector, type InvalidFrameVector,
} from './vectors.js';

const samples: Message[] = [
  { type: 'Hello', protocolVersion: 1, client: 'test' },
  { type: 'HelloAck', protocolVersion: 1, serverVersion: '0.1.0', frameBytesMax: 1 << 24, pushWindow: 8, readFrameBytes: 1 << 20, ucxPort: 40123, ucxAddress: Buffer.from([9, 8, 7]) },
  { type: 'Heartbeat', appId: 'app-1' },
  { type: 'RegisterShuffle', appId: 'app-1', shuffleId: 3, numMaps: 10, numPartitions: 200 },
  { type: 'UnregisterShuffle', appId: 'app-1', shuffleId: 3 },
  { type: 'UnregisterApp', appId: 'app-1' },
  { type: 'CommitMap', appId: 'app-1', shuffleId: 3, mapId: 9, attempt: 2 ** 40 + 5, batchCount: 17 },
  { type: 'CommitAck', won: false, winnerAttempt: 12 },
  { type: 'OpenRead', appId: 'a', shuffleId: 1, partitionStart: 2, partitionEnd: 9, mapStart: 0, mapEnd: 4, creditBytes: 8 << 20 },
  { type: 'ReadCredit', creditBytes: 123 },
  { type: 'ReadEnd', blockCount: 5, byteCount: 2 ** 35 },
  { type: 'CancelRead' },
  { type: 'Ack' },
  { type: 'Error', code: ErrorCode.CHECKSUM_MISMATCH, message: 'bad crc' },
  { type: 'PlanRead', appId: 'a', shuffleId: 1, partitionStart: 2, partitionEnd: 9, mapStart: 0, mapEnd: 4 },
  {
    type: 'ReadPlan', leaseId: 2 ** 33 + 1, regions: [Buffer.from([1, 2, 3]), Buffer.alloc(200, 7)],
    runs: [
      { remoteAddress: 0x7f00_1234_5678n, length: 2 ** 33, partition: 3, region: 1, blockCount: 9, mapMin: 0, mapMax: 7, crc32c: 0xdeadbeef },
      { remoteAddress: 0xffff_ffff_ffff_fff0n, length: 80, partition: 4, region: 0, blockCount: 1, mapMin: 2, mapMax: 2, crc32c: null },
    ],
    commits: [{ mapId: 0, attempt: 2 ** 40, batchCount: 3 }, { mapId: 7, attempt: 1, batchCount: 0 }],
  },
  { type: 'ReleaseRead', leaseId: 12 },
];

test('every message survives an encode/decode round trip', (t) => {
  samples.forEach((m, i) => {
    const f = decodeFrame(encodeFrame(i + 1, m));
    t.is(f.requestId, i + 1);
    t.deepEqual(f.message, m);
    t.is(f.body.length, 0);
  });
});

test('block headers and body travel together', (t) => {
  const body = [Buffer.from('hello'), Buffer.from('world!!')];
  const m: Message = {
    type: 'PushBlocks', appId: 'a', shuffleId: 1, blocks: body.map((b, seq) => ({
      attempt: 3, mapId: 4, partition: seq, batch: 0, seq, rawLength: b.length, storedLength: b.length, crc32c: 42 + seq, codec: Codec.NONE,
    })),
  };
  const f = decodeFrame(encodeFrame(7, m, body));
  t.deepEqual(f.message, m);
  t.deepEqual(f.body, Buffer.concat(body));
});


test('truncated, short and garbage frames get coded errors', (t) => {
  const frame = encodeFrame(1, { type: 'RegisterShuffle', appId: 'app', shuffleId: 1, numMaps: 1, numPartitions: 1 });
  t.is(codeOf(() => decodeFrame(frame.subarray(0, 3))), 'MALFORMED_FRAME');
  t.is(codeOf(() => decodeFrame(frame.subarray(0, frame.length - 8))), 'MALFORMED_FRAME');
  t.is(codeOf(() => decodeFrame(Buffer.alloc(64, 0xff))), 'MESSAGE_TOO_LARGE');
  const garbage = Buffer.alloc(64, 0x01);
  garbage.writeUInt32LE(60, 0);
  t.is(codeOf(() => decodeFrame(garbage)), 'MALFORMED_FRAME');
  // Random damage never crashes the decoder: it throws a coded error or yields a checked message.
  let seed = 1;
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(frame);
    for (let k = 0; k < 4; k++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      junk[4 + (seed % (junk.length - 4))] = seed >>> 24;
    }
    try {
      decodeFrame(junk);
    } catch (err) {
      t.true(err instanceof PegasusError, String(err));
    }
  }
});

test('app ids that look like paths are INVALID_ID', (t) => {
  for (const bad of ['..', '../x', 'a/b', '', '.x', 'a\\b', 'x'.repeat(129), 'a..b']) {
    t.is(codeOf(() => checkAppId(bad)), 'INVALID_ID', bad);
  }
  for (const good of ['app-20261125-0001', 'local-1700000000', 'a.b_c-d', 'X']) t.is(checkAppId(good), good);
});

test('a ReadPlan naming a region it does not carry is refused', (t) => {
  const m: Message = {
    type: 'ReadPlan', leaseId: 1, regions: [Buffer.from([1])],
    runs: [{ remoteAddress: 4096n, length: 80, partition: 0, region: 1, blockCount: 1, mapMin: 0, mapMax: 0, crc32c: null }],
    commits: [],
  };
  const err = t.throws(() => decodeFrame(encodeFrame(1, m)));
  t.true(PegasusError.is(err, ErrorCode.INVALID_ARGUMENT));
});

// ---------------------------------------------------------------------------
// Shared test vectors (schemas/test-vectors/README.md); the JVM client reads the same files.

test('frame vectors cover every message type of the schema', (t) => {
  const types = new Set(readVectors<FrameVector>('frames.json').map((v) => v.message.type));
  const declared = Object.keys(FbMessage).filter((k) => Number.isNaN(Number(k)) && k !== 'NONE');
  t.deepEqual([...types].sort(), declared.sort());
});

test('every frame vector decodes to its fields, and its fields encode to its bytes', (t) => {
  for (const v of readVectors<FrameVector>('frames.json')) {
    const frame = Buffer.from(v.frame, 'hex');
    const f = decodeFrame(frame);
    t.is(f.requestId, v.requestId, v.name);
    t.deepEqual(messageToJson(f.message), v.message, v.name);
    t.is(f.body.toString('hex'), v.body, v.name);
    const body = Buffer.from(v.body, 'hex');
    t.is(encodeFrame(v.requestId, messageFromJson(v.message), body.length === 0 ? [] : [body]).toString('hex'), v.frame, v.name);
  }
});

test('every invalid frame vector is refused with its code', (t) => {
  for (const v of readVectors<InvalidFrameVector>('invalid-frames.json')) {
    t.is(codeOf(() => decodeFrame(Buffer.from(v.frame, 'hex'))), v.error, `${v.name}: ${v.why}`);
  }
});

test('block header vectors: the wire struct and the run\'s block record header decode to their fields and encode to their bytes', (t) => {
  for (const v of readVectors<BlockHeaderVector>('block-headers.json')) {
    const wire = Buffer.from(v.wire, 'hex');
    const h = new FbBlockHeader().__init(0, new flatbuffers.ByteBuffer(wire));
    t.deepEqual({
      attempt: Number(h.attempt()), mapId: h.mapId(), partition: h.partition(), batch: h.batch(), seq: h.seq(),
      rawLength: h.rawLength(), storedLength: h.storedLength(), crc32c: h.crc32c(), codec: h.codec(),
    }, v.header, v.name);
    // Encoded in a PushBlocks envelope, the struct is the vector's bytes.
    const frame = encodeFrame(1, { type: 'PushBlocks', appId: 'a', shuffleId: 1, blocks: [v.header] }, [Buffer.alloc(v.header.storedLength)]);
    t.true(frame.includes(wire), v.name);
    const record = Buffer.from(v.record, 'hex');
    t.deepEqual(decodeBlockHeader(record, 0), v.header, v.name);
    const encoded = Buffer.alloc(BLOCK_HEADER_BYTES);
    encodeBlockHeader(encoded, 0, v.header);
    t.is(encoded.toString('hex'), v.record, v.name);
  }
});

test('CRC32C vectors, piece after piece, with the native and the portable implementation', (t) => {
  const impls: Array<[string, Crc32c]> = [['default', crc32c], ['portable', crc32cPortable]];
  if (crc32cNative !== null) impls.push(['native', crc32cNative]);
  for (const v of readVectors<Crc32cVector>('crc32c.json')) {
    for (const [name, crc] of impls) {
      let c = 0;
      for (const p of v.parts) c = crc(Buffer.from(p, 'hex'), c);
      t.is(c >>> 0, v.crc32c, `${v.name} (${name})`);
    }
  }
});
