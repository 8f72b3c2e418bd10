// Writes the shared test vectors, schemas/test-vectors/*.json (format: its
// README.md), from the TypeScript implementations: frames as schemas/ts/codec.ts
// encodes them, blocks as the TypeScript client stores them, runs as
// schemas/ts/run-format.ts lays them out. Every invalid vector is decoded here
// first, so a vector never claims an error the TypeScript code does not give.
//
//   npm run gen:vectors         (tsc, then node dist/scripts/gen-test-vectors.js)          write them
//   npm run gen:vectors:check   (tsc, then node dist/scripts/gen-test-vectors.js --check)  exit 1 when a committed file differs
//
// Deterministic: fixed inputs and a seeded generator, so a run with unchanged
// code rewrites identical files. (LZ4 output is lz4-napi's; another LZ4 library
// may compress differently, which is why readers only decode LZ4 vectors.)
import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as flatbuffers from 'flatbuffers';

import { crc32c, crc32cPortable } from '../native/ts/crc32c.js';
import { BlockHeader as FbBlockHeader } from '../schemas/generated/ts/pegasus/wire/block-header.js';
import { Envelope as FbEnvelope } from '../schemas/generated/ts/pegasus/wire/envelope.js';
import { ReadData as FbReadData } from '../schemas/generated/ts/pegasus/wire/read-data.js';
import { decodeFrame, encodeFrame } from '../schemas/ts/codec.js';
import { ErrorCode, PegasusError, type ErrorCodeName } from '../schemas/ts/errors.js';
import { BLOCK_BYTES_MAX, BLOCKS_PER_MESSAGE_MAX, ENVELOPE_BYTES_MAX } from '../schemas/ts/limits.js';
import { Codec, PathKind, type BlockHeader, type Message } from '../schemas/ts/messages.js';
import { BLOCK_HEADER_BYTES, RUN_HEADER_BYTES, encodeBlockHeader, encodeRun, encodeRunHeader, type RunBlock } from '../schemas/ts/run-format.js';
import { RunParser, type ExpectedRun } from '../schemas/ts/run-parser.js';
import {
  VECTORS_DIR, codeOf, messageToJson, type BlockHeaderVector, type BlockVector, type Client, type Crc32cVector, type FrameVector,
  type InvalidFrameVector, type RunVector, type VectorFile,
} from '../schemas/test/vectors.js';
import { compressBlock, decompressBlock } from '../shuffle-client/src/compression.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A deterministic byte source (LCG), so regenerating gives the same files. */
function bytes(seed: number, n: number): Buffer {
  let s = seed >>> 0;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Compressible text. */
function text(n: number): Buffer {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `{"id":${i},"name":"user${(i * 7919) % 1000}","ok":${i % 3 === 0}}\n`;
  return Buffer.from(s.slice(0, n));
}


/** A block as the TypeScript client stores it: its header (ids given) and stored bytes. */
function block(raw: Buffer, codec: 'lz4' | 'none', ids: Omit<BlockHeader, 'rawLength' | 'storedLength' | 'crc32c' | 'codec'>): RunBlock {
  const s = compressBlock(raw, codec);
  return { header: { ...ids, rawLength: raw.length, storedLength: s.stored.length, crc32c: crc32c(s.stored), codec: s.codec }, data: s.stored };
}

// ---------------------------------------------------------------------------
// Frames

const pushed = [
  block(text(3000), 'lz4', { attempt: 2 ** 40 + 5, mapId: 9, partition: 0, batch: 3, seq: 0 }),
  block(bytes(1, 100), 'none', { attempt: 2 ** 40 + 5, mapId: 9, partition: 1, batch: 3, seq: 1 }),
  block(Buffer.alloc(0), 'none', { attempt: 2 ** 40 + 5, mapId: 9, partition: 7, batch: 3, seq: 2 }),
];
const served = [
  block(text(500), 'lz4', { attempt: 7, mapId: 0, partition: 4, batch: 0, seq: 0 }),
  block(bytes(2, 33), 'none', { attempt: 1, mapId: 12, partition: 4, batch: 5, seq: 9 }),
];
strictEqual(pushed[0]!.header.codec, Codec.LZ4);
strictEqual(served[0]!.header.codec, Codec.LZ4);

interface FrameCase {
  name: string;
  direction: FrameVector['direction'];
  clients: Client[];
  requestId: number;
  message: Message;
  body?: Buffer[];
}

const both: Client[] = ['ts', 'java'];
const tsOnly: Client[] = ['ts'];
const up = 'client-to-server';
const down = 'server-to-client';

const frameCases: FrameCase[] = [
  { name: 'Hello', direction: up, clients: both, requestId: 1, message: { type: 'Hello', protocolVersion: 1, client: 'pegasus-ts/0.1.0' } },
  { name: 'Hello with a UTF-8 client name', direction: up, clients: both, requestId: 1, message: { type: 'Hello', protocolVersion: 1, client: 'jvm-ö-客户端 ✓' } },
  {
    name: 'HelloAck with UCX', direction: down, clients: both, requestId: 1,
    message: { type: 'HelloAck', protocolVersion: 1, serverVersion: '0.1.0', frameBytesMax: 16 * 1024 * 1024, pushWindow: 8, readFrameBytes: 1024 * 1024, ucxPort: 40123, ucxAddress: bytes(3, 24) },
  },
  {
    name: 'HelloAck without UCX', direction: down, clients: both, requestId: 0xffff_ffff,
    message: { type: 'HelloAck', protocolVersion: 1, serverVersion: '0.1.0', frameBytesMax: 262_144, pushWindow: 64, readFrameBytes: 65_536, ucxPort: 0, ucxAddress: Buffer.alloc(0) },
  },
  { name: 'Heartbeat', direction: up, clients: both, requestId: 2, message: { type: 'Heartbeat', appId: 'app-20261125-0001' } },
  { name: 'RegisterShuffle', direction: up, clients: both, requestId: 3, message: { type: 'RegisterShuffle', appId: 'app-1', shuffleId: 3, numMaps: 10, numPartitions: 200 } },
  { name: 'RegisterShuffle of shuffle 0 (fields at their default are left out of the table)', direction: up, clients: both, requestId: 0, message: { type: 'RegisterShuffle', appId: 'a', shuffleId: 0, numMaps: 1, numPartitions: 1 } },
  { name: 'UnregisterShuffle', direction: up, clients: both, requestId: 4, message: { type: 'UnregisterShuffle', appId: 'app-1', shuffleId: 4_000_000_000 } },
  { name: 'UnregisterApp', direction: up, clients: both, requestId: 5, message: { type: 'UnregisterApp', appId: 'app-1' } },
  {
    name: 'PushBlocks of three blocks: LZ4, NONE, empty', direction: up, clients: both, requestId: 6,
    message: { type: 'PushBlocks', appId: 'app-1', shuffleId: 3, blocks: pushed.map((b) => b.header) }, body: pushed.map((b) => b.data),
  },
  { name: 'CommitMap', direction: up, clients: both, requestId: 7, message: { type: 'CommitMap', appId: 'app-1', shuffleId: 3, mapId: 9, attempt: 2 ** 52 + 1, batchCount: 4 } },
  { name: 'CommitAck, won', direction: down, clients: both, requestId: 7, message: { type: 'CommitAck', won: true, winnerAttempt: 2 ** 52 + 1 } },
  { name: 'CommitAck, lost to another attempt', direction: down, clients: both, requestId: 8, message: { type: 'CommitAck', won: false, winnerAttempt: 12 } },
  {
    name: 'OpenRead', direction: up, clients: both, requestId: 9,
    message: { type: 'OpenRead', appId: 'app-1', shuffleId: 3, partitionStart: 2, partitionEnd: 9, mapStart: 0, mapEnd: 4, creditBytes: 8 * 1024 * 1024 },
  },
  {
    name: 'ReadData of two blocks', direction: down, clients: both, requestId: 9,
    message: { type: 'ReadData', blocks: served.map((b) => b.header) }, body: served.map((b) => b.data),
  },
  { name: 'ReadData of no block', direction: down, clients: both, requestId: 9, message: { type: 'ReadData', blocks: [] } },
  { name: 'ReadCredit', direction: up, clients: both, requestId: 9, message: { type: 'ReadCredit', creditBytes: 4_294_967_295 } },
  { name: 'ReadEnd', direction: down, clients: both, requestId: 9, message: { type: 'ReadEnd', blockCount: 5, byteCount: 2 ** 35 } },
  { name: 'CancelRead', direction: up, clients: both, requestId: 9, message: { type: 'CancelRead' } },
  { name: 'Ack', direction: down, clients: both, requestId: 3, message: { type: 'Ack' } },
  { name: 'Error', direction: down, clients: both, requestId: 6, message: { type: 'Error', code: ErrorCode.CHECKSUM_MISMATCH, message: 'block 2 has CRC32C 1, header says 2' } },
  { name: 'Error with an empty message', direction: down, clients: both, requestId: 0, message: { type: 'Error', code: ErrorCode.UNKNOWN_SHUFFLE, message: '' } },
  {
    name: 'PlanRead', direction: up, clients: tsOnly, requestId: 10,
    message: { type: 'PlanRead', appId: 'app-1', shuffleId: 3, partitionStart: 0, partitionEnd: 200, mapStart: 0, mapEnd: 10 },
  },
  {
    name: 'ReadPlan', direction: down, clients: tsOnly, requestId: 10,
    message: {
      type: 'ReadPlan', leaseId: 2 ** 33 + 1, regions: [bytes(4, 3), bytes(5, 200)],
      runs: [
        { remoteAddress: 0x7f00_1234_5678n, length: 2 ** 33, partition: 3, region: 1, blockCount: 9, mapMin: 0, mapMax: 7, crc32c: 0xdeadbeef },
        { remoteAddress: 0xffff_ffff_ffff_fff0n, length: 80, partition: 4, region: 0, blockCount: 1, mapMin: 2, mapMax: 2, crc32c: null },
      ],
      commits: [{ mapId: 0, attempt: 2 ** 40, batchCount: 3 }, { mapId: 7, attempt: 1, batchCount: 0 }],
    },
  },
  { name: 'ReleaseRead', direction: up, clients: tsOnly, requestId: 11, message: { type: 'ReleaseRead', leaseId: 2 ** 33 + 1 } },
  // Objects (FRAMING.md "Objects").
  { name: 'CreateObject', direction: up, clients: both, requestId: 20, message: { type: 'CreateObject', path: '/warehouse/t1/part-00000.parquet', overwrite: true, ttlMs: 3_600_000, cache: false } },
  { name: 'CreateObject of a cache file with a UTF-8 path', direction: up, clients: tsOnly, requestId: 21, message: { type: 'CreateObject', path: '/données/客户/ü', overwrite: false, ttlMs: 0, cache: true } },
  { name: 'ObjectCreated', direction: down, clients: both, requestId: 20, message: { type: 'ObjectCreated', handle: 7 } },
  {
    name: 'AppendObject of 11 bytes', direction: up, clients: both, requestId: 22,
    message: { type: 'AppendObject', handle: 7, offset: 2 ** 33, length: 11, crc32c: crc32c(Buffer.from('hello world')) }, body: [Buffer.from('hello world')],
  },
  { name: 'CloseObject', direction: up, clients: both, requestId: 23, message: { type: 'CloseObject', handle: 7, length: 2 ** 33 + 11 } },
  { name: 'AbortObject', direction: up, clients: both, requestId: 24, message: { type: 'AbortObject', handle: 8 } },
  { name: 'StatPath', direction: up, clients: both, requestId: 25, message: { type: 'StatPath', path: '/warehouse' } },
  {
    name: 'PathStatus of a file', direction: down, clients: both, requestId: 25,
    message: { type: 'PathStatus', name: '/warehouse/t1/part-00000.parquet', kind: PathKind.FILE, length: 2 ** 33 + 11, mtimeMs: 1_796_000_000_000, id: 42, ttlMs: 3_600_000, cache: false, tier: 'nvme:/data/pegasus' },
  },
  { name: 'ListDir', direction: up, clients: both, requestId: 26, message: { type: 'ListDir', path: '/warehouse', startAfter: 't1', limit: 100 } },
  {
    name: 'DirListing', direction: down, clients: both, requestId: 26,
    message: {
      type: 'DirListing', more: true, entries: [
        { name: 't2', kind: PathKind.DIRECTORY, length: 0, mtimeMs: 1_796_000_000_001, id: 43, ttlMs: 0, cache: false, tier: '' },
        { name: 'z', kind: PathKind.FILE, length: 5, mtimeMs: 1_796_000_000_002, id: 44, ttlMs: 0, cache: true, tier: 'disk:/d' },
      ],
    },
  },
  { name: 'MakeDirs', direction: up, clients: both, requestId: 27, message: { type: 'MakeDirs', path: '/a/b/c' } },
  { name: 'RenamePath', direction: up, clients: both, requestId: 28, message: { type: 'RenamePath', from: '/job/_temporary/0', to: '/out/final' } },
  { name: 'DeletePath', direction: up, clients: both, requestId: 29, message: { type: 'DeletePath', path: '/out', recursive: true } },
  { name: 'DeleteResult', direction: down, clients: both, requestId: 29, message: { type: 'DeleteResult', deleted: true } },
  {
    name: 'OpenObject', direction: up, clients: both, requestId: 30,
    message: { type: 'OpenObject', path: '/warehouse/t1/part-00000.parquet', offset: 2 ** 33 - 8, length: 8, creditBytes: 8 * 1024 * 1024, id: 42 },
  },
];

function frameVectors(): FrameVector[] {
  return frameCases.map((c) => {
    const body = c.body ?? [];
    const frame = encodeFrame(c.requestId, c.message, body);
    const decoded = decodeFrame(frame);
    strictEqual(decoded.requestId, c.requestId >>> 0, c.name);
    deepStrictEqual(decoded.message, c.message, c.name);
    return {
      name: c.name, direction: c.direction, clients: c.clients, requestId: c.requestId,
      message: messageToJson(decoded.message), body: hex(Buffer.concat(body)), frame: hex(frame),
    };
  });
}

// ---------------------------------------------------------------------------
// Invalid frames

/** Frame offset of the first BlockHeader struct of a ReadData frame; its vector's length is the u32 before it. */
function readDataBlocksAt(frame: Buffer): number {
  const envBytes = frame.readUInt32LE(0);
  const bb = new flatbuffers.ByteBuffer(frame.subarray(4, 4 + envBytes));
  const m = FbEnvelope.getRootAsEnvelope(bb).message(new FbReadData()) as FbReadData;
  return 4 + bb.__vector(m.bb_pos + bb.__offset(m.bb_pos, 4));
}

function patched(frame: Buffer, patch: (f: Buffer) => void): Buffer {
  const f = Buffer.from(frame);
  patch(f);
  return f;
}

function invalidFrameVectors(): InvalidFrameVector[] {
  const commitAck = encodeFrame(8, { type: 'CommitAck', won: true, winnerAttempt: 3 });
  const helloAck = encodeFrame(1, frameCases[2]!.message);
  const oneBlock = served[1]!;
  const readData = encodeFrame(9, { type: 'ReadData', blocks: [oneBlock.header] }, [oneBlock.data]);
  const blocksAt = readDataBlocksAt(readData);

  // An envelope naming a message type no version declares: an Ack table under tag 200.
  const b = new flatbuffers.Builder(64);
  b.startObject(0);
  const ack = b.endObject();
  FbEnvelope.startEnvelope(b);
  FbEnvelope.addRequestId(b, 5);
  FbEnvelope.addMessageType(b, 200 as never);
  FbEnvelope.addMessage(b, ack);
  b.finish(FbEnvelope.endEnvelope(b), 'PGS1');
  const unknownType = Buffer.concat([Buffer.alloc(4), b.asUint8Array()]);
  unknownType.writeUInt32LE(unknownType.length - 4, 0);

  // An envelope with a request id and no message.
  const e = new flatbuffers.Builder(64);
  FbEnvelope.startEnvelope(e);
  FbEnvelope.addRequestId(e, 6);
  e.finish(FbEnvelope.endEnvelope(e), 'PGS1');
  const noMessage = Buffer.concat([Buffer.alloc(4), e.asUint8Array()]);
  noMessage.writeUInt32LE(noMessage.length - 4, 0);

  const cases: Array<Omit<InvalidFrameVector, 'frame'> & { bytes: Buffer }> = [
    { name: 'three bytes', why: 'shorter than the envelope-length prefix', error: 'MALFORMED_FRAME', bytes: commitAck.subarray(0, 3) },
    { name: 'envelope length 0xffffffff', why: `an envelope above ENVELOPE_BYTES_MAX (${ENVELOPE_BYTES_MAX})`, error: 'MESSAGE_TOO_LARGE', bytes: Buffer.alloc(64, 0xff) },
    {
      name: 'envelope length ENVELOPE_BYTES_MAX + 1', why: 'an envelope above the limit, refused before its bytes are awaited', error: 'MESSAGE_TOO_LARGE',
      bytes: patched(commitAck, (f) => f.writeUInt32LE(ENVELOPE_BYTES_MAX + 1, 0)),
    },
    { name: 'envelope length 4', why: 'no envelope is shorter than 8 bytes', error: 'MALFORMED_FRAME', bytes: patched(commitAck, (f) => f.writeUInt32LE(4, 0)) },
    { name: 'HelloAck cut 8 bytes short', why: 'the frame ends inside its envelope', error: 'MALFORMED_FRAME', bytes: helloAck.subarray(0, helloAck.length - 8) },
    { name: 'file identifier PGS2', why: 'every envelope carries the identifier PGS1', error: 'MALFORMED_FRAME', bytes: patched(commitAck, (f) => f.write('PGS2', 8, 'latin1')) },
    { name: 'root offset past the envelope', why: 'the root table offset must lie inside the envelope', error: 'MALFORMED_FRAME', bytes: patched(commitAck, (f) => f.writeUInt32LE(0x7fff_0000, 4)) },
    { name: 'envelope without a message', why: 'an envelope must carry a message', error: 'MALFORMED_FRAME', bytes: noMessage },
    { name: 'message type 200', why: 'a union tag no protocol version declares', error: 'UNKNOWN_MESSAGE', bytes: unknownType },
    { name: 'CommitAck with a body', why: 'only PushBlocks and ReadData have bodies: the body must be exactly the bytes the block headers name', error: 'MALFORMED_FRAME', bytes: Buffer.concat([commitAck, Buffer.from([0])]) },
    { name: 'ReadData with a body one byte long', why: 'the body must be exactly the stored bytes its block headers name', error: 'MALFORMED_FRAME', bytes: Buffer.concat([readData, Buffer.from([0])]) },
    { name: 'ReadData with a body one byte short', why: 'the body must be exactly the stored bytes its block headers name', error: 'MALFORMED_FRAME', bytes: readData.subarray(0, readData.length - 1) },
    {
      name: `ReadData naming ${BLOCKS_PER_MESSAGE_MAX + 1} blocks`, why: 'more block headers than BLOCKS_PER_MESSAGE_MAX, refused before they are read', error: 'MESSAGE_TOO_LARGE',
      bytes: patched(readData, (f) => f.writeUInt32LE(BLOCKS_PER_MESSAGE_MAX + 1, blocksAt - 4)),
    },
    {
      name: 'ReadData naming 1000 blocks in a short envelope', why: 'the block headers a vector names must fit in the envelope', error: 'MALFORMED_FRAME',
      bytes: patched(readData, (f) => f.writeUInt32LE(1000, blocksAt - 4)),
    },
    { name: 'ReadData block with codec 7', why: 'a codec the schema does not declare', error: 'INVALID_ARGUMENT', bytes: patched(readData, (f) => f.writeUInt8(7, blocksAt + 36)) },
  ];
  return cases.map(({ bytes: frame, ...c }) => {
    strictEqual(codeOf(() => decodeFrame(frame)), c.error, c.name);
    return { name: c.name, frame: hex(frame), error: c.error, why: c.why };
  });
}

// ---------------------------------------------------------------------------
// Block headers: the FlatBuffers struct and the run's block record header

function wireStruct(h: BlockHeader): Buffer {
  const b = new flatbuffers.Builder(64);
  FbBlockHeader.createBlockHeader(b, BigInt(h.attempt), h.mapId, h.partition, h.batch, h.seq, h.rawLength, h.storedLength, h.crc32c, h.codec);
  // Unfinished, so asUint8Array() does not apply: the struct is the last offset() bytes of the buffer.
  const all = b.dataBuffer().bytes();
  const out = Buffer.from(all.subarray(all.length - b.offset()));
  strictEqual(out.length, 40);
  return out;
}

function blockHeaderVectors(): BlockHeaderVector[] {
  const cases: Array<[string, BlockHeader]> = [
    ['LZ4 block of a pushed batch', pushed[0]!.header],
    ['empty NONE block', pushed[2]!.header],
    ['every field at its largest', {
      attempt: Number.MAX_SAFE_INTEGER, mapId: 0xffff_ffff, partition: 0xffff_ffff, batch: 0xffff_ffff, seq: 0xffff_ffff,
      rawLength: BLOCK_BYTES_MAX, storedLength: BLOCK_BYTES_MAX, crc32c: 0xffff_ffff, codec: Codec.LZ4,
    }],
    ['every field 0', { attempt: 0, mapId: 0, partition: 0, batch: 0, seq: 0, rawLength: 0, storedLength: 0, crc32c: 0, codec: Codec.NONE }],
  ];
  // The struct is laid out as in a PushBlocks envelope.
  const push = encodeFrame(1, { type: 'PushBlocks', appId: 'a', shuffleId: 1, blocks: [pushed[0]!.header] }, [pushed[0]!.data]);
  if (!push.includes(wireStruct(pushed[0]!.header))) throw new Error('the BlockHeader struct is not laid out as in a PushBlocks frame');
  return cases.map(([name, header]) => {
    const record = Buffer.alloc(BLOCK_HEADER_BYTES);
    encodeBlockHeader(record, 0, header);
    return { name, header, wire: hex(wireStruct(header)), record: hex(record) };
  });
}

// ---------------------------------------------------------------------------
// Block contents

function blockVectors(): BlockVector[] {
  const out: BlockVector[] = [];
  const good = (name: string, raw: Buffer, codec: 'lz4' | 'none'): void => {
    const s = compressBlock(raw, codec);
    strictEqual(s.codec, codec === 'lz4' ? Codec.LZ4 : Codec.NONE, name);
    out.push({ name, codec: s.codec, rawLength: raw.length, crc32c: crc32c(s.stored), stored: hex(s.stored), raw: hex(raw) });
  };
  const bad = (name: string, error: ErrorCodeName, codec: number, rawLength: number, stored: Buffer, crc = crc32c(stored)): void => {
    out.push({ name, codec, rawLength, crc32c: crc, stored: hex(stored), error });
  };
  good('NONE, empty', Buffer.alloc(0), 'none');
  good('NONE, 100 bytes', bytes(6, 100), 'none');
  good('LZ4, 4 KiB of text', text(4096), 'lz4');
  good('LZ4, 8 KiB of one byte', Buffer.alloc(8192, 0x61), 'lz4');
  const lz4 = compressBlock(text(1000), 'lz4').stored;
  bad('stored bytes that do not match the CRC32C', 'CHECKSUM_MISMATCH', Codec.LZ4, 1000, lz4, (crc32c(lz4) ^ 1) >>> 0);
  bad('NONE whose stored length is not its raw length', 'CORRUPT_DATA', Codec.NONE, 101, bytes(6, 100));
  bad('LZ4 whose prefix is not the raw length', 'CORRUPT_DATA', Codec.LZ4, 1001, lz4);
  bad('LZ4 of a prefix and no payload', 'CORRUPT_DATA', Codec.LZ4, 0, Buffer.alloc(4));
  const garbage = Buffer.concat([Buffer.alloc(4), Buffer.from([0xf0, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02])]);
  garbage.writeUInt32LE(5000, 0);
  bad('LZ4 payload that is not an LZ4 block', 'CORRUPT_DATA', Codec.LZ4, 5000, garbage);
  const short = Buffer.from(compressBlock(text(1000), 'lz4').stored);
  short.writeUInt32LE(2000, 0);
  bad('LZ4 that decompresses to fewer bytes than its raw length', 'CORRUPT_DATA', Codec.LZ4, 2000, short);
  bad('codec 7', 'CORRUPT_DATA', 7, 3, Buffer.from('abc'));
  bad('raw length above BLOCK_BYTES_MAX', 'CORRUPT_DATA', Codec.NONE, BLOCK_BYTES_MAX + 1, Buffer.from('abc'));
  for (const v of out) {
    const stored = Buffer.from(v.stored, 'hex');
    const decode = (): Buffer => {
      if ((crc32c(stored) >>> 0) !== v.crc32c) throw new PegasusError(ErrorCode.CHECKSUM_MISMATCH, 'crc');
      return decompressBlock(stored, v.codec as Codec, v.rawLength);
    };
    if (v.error === undefined) strictEqual(hex(decode()), v.raw, v.name);
    else strictEqual(codeOf(decode), v.error, v.name);
  }
  return out;
}

// ---------------------------------------------------------------------------
// CRC32C

function crcVectors(): Crc32cVector[] {
  const iscsiRead = Buffer.from('01c00000' + '00000000'.repeat(3) + '14000000' + '00000400' + '00000014' + '00000018' + '28000000' + '00000000' + '02000000' + '00000000', 'hex');
  const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  // Known values (RFC 3720, B.4, and the usual check value): a guard against generating from a broken implementation.
  const cases: Array<[string, Buffer[], number | null]> = [
    ['empty', [Buffer.alloc(0)], 0],
    ['"123456789"', [Buffer.from('123456789')], 0xe3069283],
    ['32 bytes of 0x00', [Buffer.alloc(32)], 0x8a9136aa],
    ['32 bytes of 0xff', [Buffer.alloc(32, 0xff)], 0x62a8ab43],
    ['32 ascending bytes 0x00..0x1f', [ascending], 0x46dd794e],
    ['32 descending bytes 0x1f..0x00', [Buffer.from(ascending).reverse()], 0x113fdb5c],
    ['an iSCSI read command PDU', [iscsiRead], 0xd9963a56],
    ['"123456789" in two pieces', [Buffer.from('1234'), Buffer.from('56789')], 0xe3069283],
    ['1000 bytes in three pieces, one empty', [bytes(7, 999), Buffer.alloc(0), bytes(8, 1)], null],
    ['4 KiB', [bytes(9, 4096)], null],
  ];
  return cases.map(([name, parts, known]) => {
    let crc = 0;
    for (const p of parts) crc = crc32c(p, crc);
    strictEqual(crc >>> 0, crc32cPortable(Buffer.concat(parts)) >>> 0, name);
    if (known !== null) strictEqual(crc >>> 0, known, name);
    return { name, parts: parts.map(hex), crc32c: crc >>> 0 };
  });
}

// ---------------------------------------------------------------------------
// Runs

function runVectors(): RunVector[] {
  const out: RunVector[] = [];
  const expectedOf = (run: Buffer, blocks: RunBlock[], crc: boolean, mapMin = 0, mapMax = 0xffff_ffff): ExpectedRun => ({
    partition: blocks[0]!.header.partition, length: run.length, blockCount: blocks.length, mapMin, mapMax, crc32c: crc ? crc32c(run) : null,
  });
  const good = (name: string, blocks: RunBlock[], crc: boolean, mapMin?: number, mapMax?: number): void => {
    const run = encodeRun({ partition: blocks[0]!.header.partition, blocks });
    out.push({
      name, expected: expectedOf(run, blocks, crc, mapMin, mapMax), run: hex(run),
      blocks: blocks.map((b) => ({ header: b.header, data: hex(b.data) })),
    });
  };
  const p = 4;
  const three = [
    block(text(800), 'lz4', { attempt: 3, mapId: 5, partition: p, batch: 0, seq: 0 }),
    block(Buffer.alloc(0), 'none', { attempt: 3, mapId: 5, partition: p, batch: 0, seq: 1 }),
    block(bytes(10, 57), 'none', { attempt: 2 ** 45, mapId: 9, partition: p, batch: 2, seq: 0 }),
  ];
  good('one NONE block, no run CRC', [three[2]!], false, 9, 9);
  good('three blocks (LZ4, empty, NONE) with the run CRC32C', three, true, 5, 9);
  good('three blocks, maps 0..max', three, false);

  const base = encodeRun({ partition: p, blocks: three });
  const exp = expectedOf(base, three, true, 5, 9);
  const bad = (name: string, error: ErrorCodeName, run: Buffer, expected: ExpectedRun = { ...exp, length: run.length }): void => {
    out.push({ name, expected, run: hex(run), error });
  };
  const at1 = RUN_HEADER_BYTES + BLOCK_HEADER_BYTES + three[0]!.data.length; // the second block record
  const reseal = (buf: Buffer, at: number, n: number): void => {
    buf.writeUInt32LE(crc32c(buf.subarray(at, at + n - 4)), at + n - 4);
  };
  bad('run header CRC32C wrong', 'CORRUPT_DATA', patched(base, (f) => { f[9]! ^= 1; }), { ...exp, crc32c: null });
  bad('run header of another partition', 'CORRUPT_DATA', base, { ...exp, partition: p + 1 });
  bad('run header with another block count than expected', 'CORRUPT_DATA', base, { ...exp, blockCount: 2 });
  bad('block record header magic wrong', 'CORRUPT_DATA', patched(base, (f) => { f.write('PBLX', at1, 'latin1'); reseal(f, at1, BLOCK_HEADER_BYTES); }), { ...exp, crc32c: null });
  bad('block record header with codec 7', 'CORRUPT_DATA', patched(base, (f) => { f.writeUInt8(7, at1 + 5); reseal(f, at1, BLOCK_HEADER_BYTES); }), { ...exp, crc32c: null });
  bad('block of a map outside the expected range', 'CORRUPT_DATA', base, { ...exp, mapMax: 8 });
  bad('block of another partition than the run', 'CORRUPT_DATA', patched(base, (f) => { f.writeUInt32LE(p + 1, at1 + 20); reseal(f, at1, BLOCK_HEADER_BYTES); }), { ...exp, crc32c: null });
  bad('block record running past the run', 'CORRUPT_DATA', patched(base, (f) => { f.writeUInt32LE(10_000, at1 + 36); reseal(f, at1, BLOCK_HEADER_BYTES); }), { ...exp, crc32c: null });
  bad('run cut one byte short', 'CORRUPT_DATA', base.subarray(0, base.length - 1), exp);
  const extra = Buffer.from(base);
  encodeRunHeader(extra, 0, { partition: p, blockCount: 2, runBytes: extra.length });
  bad('bytes after the last block the header announces', 'CORRUPT_DATA', extra, { ...exp, blockCount: 2, crc32c: null });
  bad('run bytes that do not match the run CRC32C', 'CHECKSUM_MISMATCH', patched(base, (f) => { f[f.length - 1]! ^= 1; }), exp);
  bad('impossible description: no block', 'CORRUPT_DATA', base, { ...exp, blockCount: 0 });

  for (const v of out) {
    const run = Buffer.from(v.run, 'hex');
    const parse = (): RunBlock[] => {
      const parser = new RunParser(v.expected, v.name);
      const blocks = parser.feed(run);
      parser.finish();
      return blocks;
    };
    if (v.error === undefined) deepStrictEqual(parse().map((b) => ({ header: b.header, data: hex(b.data) })), v.blocks, v.name);
    else strictEqual(codeOf(parse), v.error, v.name);
  }
  return out;
}

// ---------------------------------------------------------------------------

const documents: Record<VectorFile, { comment: string; vectors: unknown[] }> = {
  'frames.json': { comment: 'Valid frames of every message type: the frame as schemas/ts/codec.ts encodes it and its decoded fields.', vectors: frameVectors() },
  'invalid-frames.json': { comment: 'Frames every decoder must refuse, with the error code it must give.', vectors: invalidFrameVectors() },
  'block-headers.json': { comment: 'Block headers: the 40-byte FlatBuffers struct of the wire and the 48-byte block record header of a run.', vectors: blockHeaderVectors() },
  'blocks.json': { comment: 'Stored block bytes (NONE, LZ4 = u32le raw length + LZ4 block) with their raw bytes, or the error decoding must give.', vectors: blockVectors() },
  'crc32c.json': { comment: 'CRC32C (Castagnoli) of inputs given in pieces, computed piece after piece.', vectors: crcVectors() },
  'runs.json': { comment: 'Runs (RUN_FORMAT.md) with their expected description and blocks, or the error reading them must give.', vectors: runVectors() },
};

const check = process.argv.includes('--check');
const stale: string[] = [];
mkdirSync(VECTORS_DIR, { recursive: true });
for (const [file, doc] of Object.entries(documents)) {
  const json = `${JSON.stringify({ $comment: `${doc.comment} Generated by scripts/gen-test-vectors.ts; format: README.md.`, vectors: doc.vectors }, null, 2)}\n`;
  const path = join(VECTORS_DIR, file);
  if (check) {
    if (!existsSync(path) || readFileSync(path, 'utf8') !== json) stale.push(file);
  } else {
    writeFileSync(path, json);
  }
}
if (check && stale.length > 0) {
  console.error(`test vectors are stale; run \`npm run gen:vectors\`: ${stale.join(', ')}`);
  process.exit(1);
}
console.log(check ? 'test vectors are current' : `wrote ${Object.keys(documents).length} files to ${VECTORS_DIR}`);
