// Frame codec: the only code that reads or writes FlatBuffers messages.
// Layout (see schemas/FRAMING.md):
//   u32le envelope_length | Envelope FlatBuffer | body (block bytes, in header order)
import * as flatbuffers from 'flatbuffers';
import { Ack as FbAck } from '../generated/ts/pegasus/wire/ack.js';
import { BlockHeader as FbBlockHeader } from '../generated/ts/pegasus/wire/block-header.js';
import { CancelRead as FbCancelRead } from '../generated/ts/pegasus/wire/cancel-read.js';
import { CommitAck as FbCommitAck } from '../generated/ts/pegasus/wire/commit-ack.js';
import { CommitMap as FbCommitMap } from '../generated/ts/pegasus/wire/commit-map.js';
import { Envelope as FbEnvelope } from '../generated/ts/pegasus/wire/envelope.js';
import { Error as FbError } from '../generated/ts/pegasus/wire/error.js';
import { Heartbeat as FbHeartbeat } from '../generated/ts/pegasus/wire/heartbeat.js';
import { HelloAck as FbHelloAck } from '../generated/ts/pegasus/wire/hello-ack.js';
import { Hello as FbHello } from '../generated/ts/pegasus/wire/hello.js';
import { Message as FbMessage } from '../generated/ts/pegasus/wire/message.js';
import { OpenRead as FbOpenRead } from '../generated/ts/pegasus/wire/open-read.js';
import { PushBlocks as FbPushBlocks } from '../generated/ts/pegasus/wire/push-blocks.js';
import { ReadCredit as FbReadCredit } from '../generated/ts/pegasus/wire/read-credit.js';
import { ReadData as FbReadData } from '../generated/ts/pegasus/wire/read-data.js';
import { ReadEnd as FbReadEnd } from '../generated/ts/pegasus/wire/read-end.js';
import { RegisterShuffle as FbRegisterShuffle } from '../generated/ts/pegasus/wire/register-shuffle.js';
import { UnregisterApp as FbUnregisterApp } from '../generated/ts/pegasus/wire/unregister-app.js';
import { UnregisterShuffle as FbUnregisterShuffle } from '../generated/ts/pegasus/wire/unregister-shuffle.js';
import { MapCommit as FbMapCommit } from '../generated/ts/pegasus/wire/map-commit.js';
import { PlanRead as FbPlanRead } from '../generated/ts/pegasus/wire/plan-read.js';
import { ReadPlan as FbReadPlan } from '../generated/ts/pegasus/wire/read-plan.js';
import { RegionKey as FbRegionKey } from '../generated/ts/pegasus/wire/region-key.js';
import { ReleaseRead as FbReleaseRead } from '../generated/ts/pegasus/wire/release-read.js';
import { RunLocation as FbRunLocation } from '../generated/ts/pegasus/wire/run-location.js';
import { AbortObject as FbAbortObject } from '../generated/ts/pegasus/wire/abort-object.js';
import { AppendObject as FbAppendObject } from '../generated/ts/pegasus/wire/append-object.js';
import { CloseObject as FbCloseObject } from '../generated/ts/pegasus/wire/close-object.js';
import { CreateObject as FbCreateObject } from '../generated/ts/pegasus/wire/create-object.js';
import { DeletePath as FbDeletePath } from '../generated/ts/pegasus/wire/delete-path.js';
import { DeleteResult as FbDeleteResult } from '../generated/ts/pegasus/wire/delete-result.js';
import { DirListing as FbDirListing } from '../generated/ts/pegasus/wire/dir-listing.js';
import { ListDir as FbListDir } from '../generated/ts/pegasus/wire/list-dir.js';
import { MakeDirs as FbMakeDirs } from '../generated/ts/pegasus/wire/make-dirs.js';
import { ObjectCreated as FbObjectCreated } from '../generated/ts/pegasus/wire/object-created.js';
import { OpenObject as FbOpenObject } from '../generated/ts/pegasus/wire/open-object.js';
import { PathStatus as FbPathStatus } from '../generated/ts/pegasus/wire/path-status.js';
import { RenamePath as FbRenamePath } from '../generated/ts/pegasus/wire/rename-path.js';
import { StatPath as FbStatPath } from '../generated/ts/pegasus/wire/stat-path.js';
import { ErrorCode, PegasusError, isErrorCode } from './errors.js';
import {
  BLOCK_HEADER_WIRE_BYTES, BLOCKS_PER_MESSAGE_MAX, COMMITS_PER_PLAN_MAX, ENVELOPE_BYTES_MAX, FRAME_BYTES_MAX, FRAME_PREFIX_BYTES,
  APPEND_BYTES_MAX, LIST_ENTRIES_MAX, MAP_COMMIT_WIRE_BYTES, REGIONS_PER_PLAN_MAX, RKEY_BYTES_MAX, RUN_LOCATION_WIRE_BYTES, RUNS_PER_PLAN_MAX, STRING_BYTES_MAX,
  UCX_ADDRESS_BYTES_MAX,
} from './limits.js';
import { Codec, PathKind, type BlockHeader, type Frame, type Message, type PathInfo, type ReadPlan } from './messages.js';

/** Bytes of the envelope-length prefix (declared in limits.json). */
export { FRAME_PREFIX_BYTES };

const FILE_IDENTIFIER = 'PGS1';

function malformed(message: string): PegasusError {
  return new PegasusError(ErrorCode.MALFORMED_FRAME, message);
}

// ---------------------------------------------------------------------------
// Encoding

const builder = new flatbuffers.Builder(4096);

function addBlocks(b: flatbuffers.Builder, blocks: readonly BlockHeader[]): flatbuffers.Offset {
  b.startVector(BLOCK_HEADER_WIRE_BYTES, blocks.length, 8);
  for (let i = blocks.length - 1; i >= 0; i--) {
    const h = blocks[i]!;
    FbBlockHeader.createBlockHeader(
      b, BigInt(h.attempt), h.mapId, h.partition, h.batch, h.seq, h.rawLength, h.storedLength, h.crc32c, h.codec,
    );
  }
  return b.endVector();
}

function str(b: flatbuffers.Builder, s: string): flatbuffers.Offset {
  return b.createString(s);
}

function buildReadPlan(b: flatbuffers.Builder, m: ReadPlan): flatbuffers.Offset {
  const keys = m.regions.map((rkey) => FbRegionKey.createRegionKey(b, FbRegionKey.createRkeyVector(b, rkey)));
  const regions = FbReadPlan.createRegionsVector(b, keys);
  FbReadPlan.startRunsVector(b, m.runs.length);
  for (let i = m.runs.length - 1; i >= 0; i--) {
    const r = m.runs[i]!;
    FbRunLocation.createRunLocation(
      b, r.remoteAddress, BigInt(r.length), r.partition, r.region, r.blockCount, r.mapMin, r.mapMax, r.crc32c ?? 0, r.crc32c !== null);
  }
  const runs = b.endVector();
  FbReadPlan.startCommitsVector(b, m.commits.length);
  for (let i = m.commits.length - 1; i >= 0; i--) {
    const c = m.commits[i]!;
    FbMapCommit.createMapCommit(b, BigInt(c.attempt), c.mapId, c.batchCount);
  }
  const commits = b.endVector();
  FbReadPlan.startReadPlan(b);
  FbReadPlan.addLeaseId(b, BigInt(m.leaseId));
  FbReadPlan.addRegions(b, regions);
  FbReadPlan.addRuns(b, runs);
  FbReadPlan.addCommits(b, commits);
  return FbReadPlan.endReadPlan(b);
}

function buildPathStatus(b: flatbuffers.Builder, p: PathInfo): flatbuffers.Offset {
  const name = str(b, p.name);
  const tier = str(b, p.tier);
  return FbPathStatus.createPathStatus(b, name, p.kind, BigInt(p.length), BigInt(p.mtimeMs), BigInt(p.id), BigInt(p.ttlMs), p.cache, tier);
}

/** Builds the message table; returns its union tag and offset. */
function buildMessage(b: flatbuffers.Builder, m: Message): [FbMessage, flatbuffers.Offset] {
  switch (m.type) {
    case 'Hello':
      return [FbMessage.Hello, FbHello.createHello(b, m.protocolVersion, str(b, m.client))];
    case 'HelloAck':
      return [FbMessage.HelloAck, FbHelloAck.createHelloAck(
        b, m.protocolVersion, str(b, m.serverVersion), m.frameBytesMax, m.pushWindow, m.readFrameBytes, m.ucxPort,
        FbHelloAck.createUcxAddressVector(b, m.ucxAddress))];
    case 'Heartbeat':
      return [FbMessage.Heartbeat, FbHeartbeat.createHeartbeat(b, str(b, m.appId))];
    case 'RegisterShuffle':
      return [FbMessage.RegisterShuffle, FbRegisterShuffle.createRegisterShuffle(
        b, str(b, m.appId), m.shuffleId, m.numMaps, m.numPartitions)];
    case 'UnregisterShuffle':
      return [FbMessage.UnregisterShuffle, FbUnregisterShuffle.createUnregisterShuffle(b, str(b, m.appId), m.shuffleId)];
    case 'UnregisterApp':
      return [FbMessage.UnregisterApp, FbUnregisterApp.createUnregisterApp(b, str(b, m.appId))];
    case 'PushBlocks': {
      const app = str(b, m.appId);
      const blocks = addBlocks(b, m.blocks);
      return [FbMessage.PushBlocks, FbPushBlocks.createPushBlocks(b, app, m.shuffleId, blocks)];
    }
    case 'CommitMap':
      return [FbMessage.CommitMap, FbCommitMap.createCommitMap(
        b, str(b, m.appId), m.shuffleId, m.mapId, BigInt(m.attempt), m.batchCount)];
    case 'CommitAck':
      return [FbMessage.CommitAck, FbCommitAck.createCommitAck(b, m.won, BigInt(m.winnerAttempt))];
    case 'OpenRead':
      return [FbMessage.OpenRead, FbOpenRead.createOpenRead(
        b, str(b, m.appId), m.shuffleId, m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd, m.creditBytes)];
    case 'ReadData':
      return [FbMessage.ReadData, FbReadData.createReadData(b, addBlocks(b, m.blocks))];
    case 'ReadCredit':
      return [FbMessage.ReadCredit, FbReadCredit.createReadCredit(b, m.creditBytes)];
    case 'ReadEnd':
      return [FbMessage.ReadEnd, FbReadEnd.createReadEnd(b, BigInt(m.blockCount), BigInt(m.byteCount))];
    case 'CancelRead':
      FbCancelRead.startCancelRead(b);
      return [FbMessage.CancelRead, FbCancelRead.endCancelRead(b)];
    case 'Ack':
      FbAck.startAck(b);
      return [FbMessage.Ack, FbAck.endAck(b)];
    case 'Error':
      return [FbMessage.Error, FbError.createError(b, m.code, str(b, m.message))];
    case 'PlanRead':
      return [FbMessage.PlanRead, FbPlanRead.createPlanRead(
        b, str(b, m.appId), m.shuffleId, m.partitionStart, m.partitionEnd, m.mapStart, m.mapEnd)];
    case 'ReadPlan':
      return [FbMessage.ReadPlan, buildReadPlan(b, m)];
    case 'ReleaseRead':
      return [FbMessage.ReleaseRead, FbReleaseRead.createReleaseRead(b, BigInt(m.leaseId))];
    case 'CreateObject':
      return [FbMessage.CreateObject, FbCreateObject.createCreateObject(b, str(b, m.path), m.overwrite, BigInt(m.ttlMs), m.cache)];
    case 'ObjectCreated':
      return [FbMessage.ObjectCreated, FbObjectCreated.createObjectCreated(b, m.handle)];
    case 'AppendObject':
      return [FbMessage.AppendObject, FbAppendObject.createAppendObject(b, m.handle, BigInt(m.offset), m.length, m.crc32c)];
    case 'CloseObject':
      return [FbMessage.CloseObject, FbCloseObject.createCloseObject(b, m.handle, BigInt(m.length))];
    case 'AbortObject':
      return [FbMessage.AbortObject, FbAbortObject.createAbortObject(b, m.handle)];
    case 'StatPath':
      return [FbMessage.StatPath, FbStatPath.createStatPath(b, str(b, m.path))];
    case 'PathStatus':
      return [FbMessage.PathStatus, buildPathStatus(b, m)];
    case 'ListDir': {
      const path = str(b, m.path);
      const after = str(b, m.startAfter);
      return [FbMessage.ListDir, FbListDir.createListDir(b, path, after, m.limit)];
    }
    case 'DirListing': {
      const entries = FbDirListing.createEntriesVector(b, m.entries.map((e) => buildPathStatus(b, e)));
      return [FbMessage.DirListing, FbDirListing.createDirListing(b, entries, m.more)];
    }
    case 'MakeDirs':
      return [FbMessage.MakeDirs, FbMakeDirs.createMakeDirs(b, str(b, m.path))];
    case 'RenamePath': {
      const from = str(b, m.from);
      const to = str(b, m.to);
      return [FbMessage.RenamePath, FbRenamePath.createRenamePath(b, from, to)];
    }
    case 'DeletePath':
      return [FbMessage.DeletePath, FbDeletePath.createDeletePath(b, str(b, m.path), m.recursive)];
    case 'DeleteResult':
      return [FbMessage.DeleteResult, FbDeleteResult.createDeleteResult(b, m.deleted)];
    case 'OpenObject':
      return [FbMessage.OpenObject, FbOpenObject.createOpenObject(
        b, str(b, m.path), BigInt(m.offset), BigInt(m.length), m.creditBytes, BigInt(m.id))];
  }
}

/**
 * Encodes one frame. `body` parts are copied once, after the envelope, into the
 * single buffer that is handed to the socket.
 */
export function encodeFrame(requestId: number, message: Message, body: readonly Uint8Array[] = []): Buffer {
  builder.clear();
  const [tag, offset] = buildMessage(builder, message);
  const env = FbEnvelope.createEnvelope(builder, requestId >>> 0, tag, offset);
  builder.finish(env, FILE_IDENTIFIER);
  const envBytes = builder.asUint8Array();
  let bodyBytes = 0;
  for (const part of body) bodyBytes += part.length;
  const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + envBytes.length + bodyBytes);
  out.writeUInt32LE(envBytes.length, 0);
  out.set(envBytes, FRAME_PREFIX_BYTES);
  let pos = FRAME_PREFIX_BYTES + envBytes.length;
  for (const part of body) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Decoding. FlatBuffers' TypeScript runtime has no verifier, but its reads are
// bounded by typed arrays (out of range reads yield 0, never foreign memory), so
// decoding checks structure explicitly and then validates every field value.

function readString(bb: flatbuffers.ByteBuffer, s: string | null, field: string, required = true): string {
  if (s === null || s === undefined) {
    if (required) throw malformed(`missing field ${field}`);
    return '';
  }
  if (s.length > STRING_BYTES_MAX) {
    throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `field ${field} is ${s.length} chars, limit ${STRING_BYTES_MAX}`);
  }
  void bb;
  return s;
}

/** A copy of a byte vector field (empty when absent), within `limit` bytes. */
function readBytes(bytes: Uint8Array | null, field: string, limit: number): Buffer {
  if (bytes === null) return Buffer.alloc(0);
  if (bytes.length > limit) throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `field ${field} is ${bytes.length} bytes, limit ${limit}`);
  return Buffer.from(bytes);
}

function readU64(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `field ${field}=${v} exceeds ${Number.MAX_SAFE_INTEGER}`);
  }
  return Number(v);
}

function readBlocks(
  bb: flatbuffers.ByteBuffer,
  count: number,
  at: (i: number, obj: FbBlockHeader) => FbBlockHeader | null,
): BlockHeader[] {
  const blocks: BlockHeader[] = new Array(count);
  const obj = new FbBlockHeader();
  for (let i = 0; i < count; i++) {
    const h = at(i, obj);
    if (h === null || h.bb_pos + BLOCK_HEADER_WIRE_BYTES > bb.capacity()) throw malformed(`block header ${i} out of bounds`);
    const codec = h.codec() as number;
    if (codec !== Codec.NONE && codec !== Codec.LZ4) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `block ${i} has unknown codec ${codec}`);
    }
    blocks[i] = {
      attempt: readU64(h.attempt(), 'attempt'),
      mapId: h.mapId(),
      partition: h.partition(),
      batch: h.batch(),
      seq: h.seq(),
      rawLength: h.rawLength(),
      storedLength: h.storedLength(),
      crc32c: h.crc32c(),
      codec: codec as Codec,
    };
  }
  return blocks;
}

function checkVector(bb: flatbuffers.ByteBuffer, count: number, elemBytes: number, what: string, limit: number): void {
  if (count > limit) throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `${what}: ${count} entries, limit ${limit}`);
  if (count * elemBytes > bb.capacity()) throw malformed(`${what}: ${count} entries do not fit in the envelope`);
}

function decodeReadPlan(bb: flatbuffers.ByteBuffer, m: FbReadPlan): ReadPlan {
  const regionCount = m.regionsLength();
  checkVector(bb, regionCount, 4, 'ReadPlan.regions', REGIONS_PER_PLAN_MAX);
  const regions: Buffer[] = new Array(regionCount);
  const key = new FbRegionKey();
  for (let i = 0; i < regionCount; i++) {
    const k = m.regions(i, key);
    const rkey = readBytes(k?.rkeyArray() ?? null, `ReadPlan.regions[${i}].rkey`, RKEY_BYTES_MAX); // a copy: the frame's buffer is reused
    if (rkey.length === 0) throw malformed(`ReadPlan region ${i} has no rkey`);
    regions[i] = rkey;
  }
  const runCount = m.runsLength();
  checkVector(bb, runCount, RUN_LOCATION_WIRE_BYTES, 'ReadPlan.runs', RUNS_PER_PLAN_MAX);
  const runs: ReadPlan['runs'] = new Array(runCount);
  const loc = new FbRunLocation();
  for (let i = 0; i < runCount; i++) {
    const r = m.runs(i, loc);
    if (r === null || r.bb_pos + RUN_LOCATION_WIRE_BYTES > bb.capacity()) throw malformed(`ReadPlan run ${i} out of bounds`);
    const region = r.region();
    if (region >= regionCount) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `ReadPlan run ${i} names region ${region} of ${regionCount}`);
    runs[i] = {
      remoteAddress: r.remoteAddress(), length: readU64(r.length(), 'length'), partition: r.partition(), region,
      blockCount: r.blockCount(), mapMin: r.mapMin(), mapMax: r.mapMax(), crc32c: r.hasCrc32c() ? r.crc32c() : null,
    };
  }
  const commitCount = m.commitsLength();
  checkVector(bb, commitCount, MAP_COMMIT_WIRE_BYTES, 'ReadPlan.commits', COMMITS_PER_PLAN_MAX);
  const commits: ReadPlan['commits'] = new Array(commitCount);
  const mc = new FbMapCommit();
  for (let i = 0; i < commitCount; i++) {
    const c = m.commits(i, mc);
    if (c === null || c.bb_pos + MAP_COMMIT_WIRE_BYTES > bb.capacity()) throw malformed(`ReadPlan commit ${i} out of bounds`);
    commits[i] = { mapId: c.mapId(), attempt: readU64(c.attempt(), 'attempt'), batchCount: c.batchCount() };
  }
  return { type: 'ReadPlan', leaseId: readU64(m.leaseId(), 'lease_id'), regions, runs, commits };
}

function decodePathStatus(bb: flatbuffers.ByteBuffer, p: FbPathStatus, field: string): PathInfo {
  const kind = p.kind() as number;
  if (kind !== PathKind.FILE && kind !== PathKind.DIRECTORY) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `${field} has unknown kind ${kind}`);
  return {
    name: readString(bb, p.name(), `${field}.name`), kind: kind as PathKind, length: readU64(p.length(), `${field}.length`),
    mtimeMs: readU64(p.mtimeMs(), `${field}.mtime_ms`), id: readU64(p.id(), `${field}.id`), ttlMs: readU64(p.ttlMs(), `${field}.ttl_ms`),
    cache: p.cache(), tier: readString(bb, p.tier(), `${field}.tier`, false),
  };
}

function decodeDirListing(bb: flatbuffers.ByteBuffer, m: FbDirListing): Message {
  const count = m.entriesLength();
  checkVector(bb, count, 4, 'DirListing.entries', LIST_ENTRIES_MAX);
  const entries: PathInfo[] = new Array(count);
  const e = new FbPathStatus();
  for (let i = 0; i < count; i++) {
    const p = m.entries(i, e);
    if (p === null) throw malformed(`DirListing entry ${i} out of bounds`);
    entries[i] = decodePathStatus(bb, p, `DirListing.entries[${i}]`);
  }
  return { type: 'DirListing', entries, more: m.more() };
}

function decodeMessage(bb: flatbuffers.ByteBuffer, env: FbEnvelope): Message {
  const tag = env.messageType();
  switch (tag) {
    case FbMessage.Hello: {
      const m = env.message(new FbHello()) as FbHello;
      return { type: 'Hello', protocolVersion: m.protocolVersion(), client: readString(bb, m.client(), 'client', false) };
    }
    case FbMessage.HelloAck: {
      const m = env.message(new FbHelloAck()) as FbHelloAck;
      return {
        type: 'HelloAck', protocolVersion: m.protocolVersion(), serverVersion: readString(bb, m.serverVersion(), 'server_version', false),
        frameBytesMax: m.frameBytesMax(), pushWindow: m.pushWindow(), readFrameBytes: m.readFrameBytes(), ucxPort: m.ucxPort(),
        ucxAddress: readBytes(m.ucxAddressArray(), 'ucx_address', UCX_ADDRESS_BYTES_MAX),
      };
    }
    case FbMessage.Heartbeat: {
      const m = env.message(new FbHeartbeat()) as FbHeartbeat;
      return { type: 'Heartbeat', appId: readString(bb, m.appId(), 'app_id') };
    }
    case FbMessage.RegisterShuffle: {
      const m = env.message(new FbRegisterShuffle()) as FbRegisterShuffle;
      return {
        type: 'RegisterShuffle', appId: readString(bb, m.appId(), 'app_id'), shuffleId: m.shuffleId(),
        numMaps: m.numMaps(), numPartitions: m.numPartitions(),
      };
    }
    case FbMessage.UnregisterShuffle: {
      const m = env.message(new FbUnregisterShuffle()) as FbUnregisterShuffle;
      return { type: 'UnregisterShuffle', appId: readString(bb, m.appId(), 'app_id'), shuffleId: m.shuffleId() };
    }
    case FbMessage.UnregisterApp: {
      const m = env.message(new FbUnregisterApp()) as FbUnregisterApp;
      return { type: 'UnregisterApp', appId: readString(bb, m.appId(), 'app_id') };
    }
    case FbMessage.PushBlocks: {
      const m = env.message(new FbPushBlocks()) as FbPushBlocks;
      const count = m.blocksLength();
      checkVector(bb, count, BLOCK_HEADER_WIRE_BYTES, 'PushBlocks.blocks', BLOCKS_PER_MESSAGE_MAX);
      return {
        type: 'PushBlocks', appId: readString(bb, m.appId(), 'app_id'), shuffleId: m.shuffleId(),
        blocks: readBlocks(bb, count, (i, o) => m.blocks(i, o)),
      };
    }
    case FbMessage.CommitMap: {
      const m = env.message(new FbCommitMap()) as FbCommitMap;
      return {
        type: 'CommitMap', appId: readString(bb, m.appId(), 'app_id'), shuffleId: m.shuffleId(), mapId: m.mapId(),
        attempt: readU64(m.attempt(), 'attempt'), batchCount: m.batchCount(),
      };
    }
    case FbMessage.CommitAck: {
      const m = env.message(new FbCommitAck()) as FbCommitAck;
      return { type: 'CommitAck', won: m.won(), winnerAttempt: readU64(m.winnerAttempt(), 'winner_attempt') };
    }
    case FbMessage.OpenRead: {
      const m = env.message(new FbOpenRead()) as FbOpenRead;
      return {
        type: 'OpenRead', appId: readString(bb, m.appId(), 'app_id'), shuffleId: m.shuffleId(),
        partitionStart: m.partitionStart(), partitionEnd: m.partitionEnd(), mapStart: m.mapStart(), mapEnd: m.mapEnd(),
        creditBytes: m.creditBytes(),
      };
    }
    case FbMessage.ReadData: {
      const m = env.message(new FbReadData()) as FbReadData;
      const count = m.blocksLength();
      checkVector(bb, count, BLOCK_HEADER_WIRE_BYTES, 'ReadData.blocks', BLOCKS_PER_MESSAGE_MAX);
      return { type: 'ReadData', blocks: readBlocks(bb, count, (i, o) => m.blocks(i, o)) };
    }
    case FbMessage.ReadCredit: {
      const m = env.message(new FbReadCredit()) as FbReadCredit;
      return { type: 'ReadCredit', creditBytes: m.creditBytes() };
    }
    case FbMessage.ReadEnd: {
      const m = env.message(new FbReadEnd()) as FbReadEnd;
      return { type: 'ReadEnd', blockCount: readU64(m.blockCount(), 'block_count'), byteCount: readU64(m.byteCount(), 'byte_count') };
    }
    case FbMessage.CancelRead:
      return { type: 'CancelRead' };
    case FbMessage.Ack:
      return { type: 'Ack' };
    case FbMessage.Error: {
      const m = env.message(new FbError()) as FbError;
      const code = m.code() as number;
      return {
        type: 'Error', code: isErrorCode(code) ? code : ErrorCode.INTERNAL,
        message: readString(bb, m.message(), 'message', false),
      };
    }
    case FbMessage.PlanRead: {
      const m = env.message(new FbPlanRead()) as FbPlanRead;
      return {
        type: 'PlanRead', appId: readString(bb, m.appId(), 'app_id'), shuffleId: m.shuffleId(),
        partitionStart: m.partitionStart(), partitionEnd: m.partitionEnd(), mapStart: m.mapStart(), mapEnd: m.mapEnd(),
      };
    }
    case FbMessage.ReadPlan:
      return decodeReadPlan(bb, env.message(new FbReadPlan()) as FbReadPlan);
    case FbMessage.ReleaseRead: {
      const m = env.message(new FbReleaseRead()) as FbReleaseRead;
      return { type: 'ReleaseRead', leaseId: readU64(m.leaseId(), 'lease_id') };
    }
    case FbMessage.CreateObject: {
      const m = env.message(new FbCreateObject()) as FbCreateObject;
      return { type: 'CreateObject', path: readString(bb, m.path(), 'path'), overwrite: m.overwrite(), ttlMs: readU64(m.ttlMs(), 'ttl_ms'), cache: m.cache() };
    }
    case FbMessage.ObjectCreated: {
      const m = env.message(new FbObjectCreated()) as FbObjectCreated;
      return { type: 'ObjectCreated', handle: m.handle() };
    }
    case FbMessage.AppendObject: {
      const m = env.message(new FbAppendObject()) as FbAppendObject;
      if (m.length() > APPEND_BYTES_MAX) throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `AppendObject of ${m.length()} bytes, limit ${APPEND_BYTES_MAX}`);
      return { type: 'AppendObject', handle: m.handle(), offset: readU64(m.offset(), 'offset'), length: m.length(), crc32c: m.crc32c() };
    }
    case FbMessage.CloseObject: {
      const m = env.message(new FbCloseObject()) as FbCloseObject;
      return { type: 'CloseObject', handle: m.handle(), length: readU64(m.length(), 'length') };
    }
    case FbMessage.AbortObject: {
      const m = env.message(new FbAbortObject()) as FbAbortObject;
      return { type: 'AbortObject', handle: m.handle() };
    }
    case FbMessage.StatPath: {
      const m = env.message(new FbStatPath()) as FbStatPath;
      return { type: 'StatPath', path: readString(bb, m.path(), 'path') };
    }
    case FbMessage.PathStatus:
      return { type: 'PathStatus', ...decodePathStatus(bb, env.message(new FbPathStatus()) as FbPathStatus, 'PathStatus') };
    case FbMessage.ListDir: {
      const m = env.message(new FbListDir()) as FbListDir;
      return { type: 'ListDir', path: readString(bb, m.path(), 'path'), startAfter: readString(bb, m.startAfter(), 'start_after', false), limit: m.limit() };
    }
    case FbMessage.DirListing:
      return decodeDirListing(bb, env.message(new FbDirListing()) as FbDirListing);
    case FbMessage.MakeDirs: {
      const m = env.message(new FbMakeDirs()) as FbMakeDirs;
      return { type: 'MakeDirs', path: readString(bb, m.path(), 'path') };
    }
    case FbMessage.RenamePath: {
      const m = env.message(new FbRenamePath()) as FbRenamePath;
      return { type: 'RenamePath', from: readString(bb, m.from(), 'from'), to: readString(bb, m.to(), 'to') };
    }
    case FbMessage.DeletePath: {
      const m = env.message(new FbDeletePath()) as FbDeletePath;
      return { type: 'DeletePath', path: readString(bb, m.path(), 'path'), recursive: m.recursive() };
    }
    case FbMessage.DeleteResult: {
      const m = env.message(new FbDeleteResult()) as FbDeleteResult;
      return { type: 'DeleteResult', deleted: m.deleted() };
    }
    case FbMessage.OpenObject: {
      const m = env.message(new FbOpenObject()) as FbOpenObject;
      return {
        type: 'OpenObject', path: readString(bb, m.path(), 'path'), offset: readU64(m.offset(), 'offset'), length: readU64(m.length(), 'length'),
        creditBytes: m.creditBytes(), id: readU64(m.id(), 'id'),
      };
    }
    default:
      throw new PegasusError(ErrorCode.UNKNOWN_MESSAGE, `unknown message type ${tag as number}`);
  }
}

/**
 * Decodes one frame. Throws PegasusError with MALFORMED_FRAME, UNKNOWN_MESSAGE,
 * MESSAGE_TOO_LARGE or INVALID_ARGUMENT; never returns a partly checked frame.
 * The returned body is a view of `data`: copy it before `data` is reused.
 */
export function decodeFrame(data: Uint8Array): Frame {
  if (data.length > FRAME_BYTES_MAX) {
    throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `frame of ${data.length} bytes exceeds ${FRAME_BYTES_MAX}`);
  }
  if (data.length < FRAME_PREFIX_BYTES + 8) throw malformed(`frame of ${data.length} bytes is shorter than the minimum`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  const envBytes = buf.readUInt32LE(0);
  if (envBytes > ENVELOPE_BYTES_MAX) {
    throw new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `envelope of ${envBytes} bytes exceeds ${ENVELOPE_BYTES_MAX}`);
  }
  if (envBytes < 8 || FRAME_PREFIX_BYTES + envBytes > buf.length) {
    throw malformed(`envelope length ${envBytes} does not fit a frame of ${buf.length} bytes`);
  }
  const envView = buf.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + envBytes);
  const bb = new flatbuffers.ByteBuffer(envView);
  if (!FbEnvelope.bufferHasIdentifier(bb)) throw malformed('frame does not carry the PGS1 identifier');
  const rootOffset = bb.readUint32(0);
  if (rootOffset < 8 || rootOffset + 4 > envBytes) throw malformed(`root offset ${rootOffset} out of bounds`);
  const vtableOffset = rootOffset - bb.readInt32(rootOffset);
  if (vtableOffset < 0 || vtableOffset + 4 > envBytes) throw malformed(`root vtable out of bounds`);
  const env = FbEnvelope.getRootAsEnvelope(bb);
  const msgTableOffset = bb.__offset(env.bb_pos, 8);
  if (msgTableOffset === 0) throw malformed('envelope has no message');
  const msgPos = env.bb_pos + msgTableOffset;
  const target = msgPos + bb.readUint32(msgPos);
  if (msgPos + 4 > envBytes || target + 4 > envBytes) throw malformed('message table out of bounds');
  const requestId = env.requestId();
  const message = decodeMessage(bb, env);
  const body = buf.subarray(FRAME_PREFIX_BYTES + envBytes);
  let expected = 0;
  if (message.type === 'PushBlocks' || message.type === 'ReadData') {
    for (const b of message.blocks) expected += b.storedLength;
  } else if (message.type === 'AppendObject') {
    expected = message.length;
  }
  if (expected !== body.length) {
    throw malformed(`body is ${body.length} bytes but the ${message.type === 'AppendObject' ? 'AppendObject length names' : 'block headers name'} ${expected}`);
  }
  return { requestId, message, body };
}
