// Plain, fully validated forms of the wire messages. Code outside schemas/ts and
// the server's protocol/ never touches FlatBuffers accessors: it sees these.
import type { ErrorCode } from './errors.js';

import { Codec } from '../generated/ts/pegasus/wire/codec.js';
import { PathKind } from '../generated/ts/pegasus/wire/path-kind.js';

export { Codec, PathKind };
/** Size of one BlockHeader struct on the wire (see pegasus.fbs); declared in limits.json. */
export { BLOCK_HEADER_WIRE_BYTES } from './limits.js';

/** One block of one partition from one map attempt. */
export interface BlockHeader {
  /** Map attempt id (a safe integer; u64 on the wire). */
  attempt: number;
  mapId: number;
  partition: number;
  batch: number;
  /** Index of the block among the blocks of its (map, attempt, batch). */
  seq: number;
  rawLength: number;
  storedLength: number;
  crc32c: number;
  codec: Codec;
}

export interface Hello { type: 'Hello'; protocolVersion: number; client: string }
export interface HelloAck {
  type: 'HelloAck';
  protocolVersion: number;
  serverVersion: string;
  frameBytesMax: number;
  pushWindow: number;
  readFrameBytes: number;
  /** Port of the server's UCX listener on the same host; 0 when it has none. */
  ucxPort: number;
  /** The server's UCX worker address (empty when it has no UCX). */
  ucxAddress: Buffer;
}
export interface Heartbeat { type: 'Heartbeat'; appId: string }
export interface RegisterShuffle {
  type: 'RegisterShuffle';
  appId: string;
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
}
export interface UnregisterShuffle { type: 'UnregisterShuffle'; appId: string; shuffleId: number }
export interface UnregisterApp { type: 'UnregisterApp'; appId: string }
export interface PushBlocks { type: 'PushBlocks'; appId: string; shuffleId: number; blocks: BlockHeader[] }
export interface CommitMap {
  type: 'CommitMap';
  appId: string;
  shuffleId: number;
  mapId: number;
  attempt: number;
  batchCount: number;
}
export interface CommitAck { type: 'CommitAck'; won: boolean; winnerAttempt: number }
/** What a read names, on every transport: partitions [start, end) of maps [start, end). */
export interface ReadRange {
  appId: string;
  shuffleId: number;
  partitionStart: number;
  partitionEnd: number;
  mapStart: number;
  mapEnd: number;
}
export interface OpenRead extends ReadRange {
  type: 'OpenRead';
  creditBytes: number;
}
export interface ReadData { type: 'ReadData'; blocks: BlockHeader[] }
export interface ReadCredit { type: 'ReadCredit'; creditBytes: number }
export interface ReadEnd { type: 'ReadEnd'; blockCount: number; byteCount: number }
export interface CancelRead { type: 'CancelRead' }
export interface Ack { type: 'Ack' }
export interface ErrorMessage { type: 'Error'; code: ErrorCode; message: string }
export interface PlanRead extends ReadRange { type: 'PlanRead' }
/** One run to fetch with a one-sided get (FRAMING.md, "UCX reads"). */
export interface RunLocation {
  /** Remote virtual address of the run's first byte (u64). */
  remoteAddress: bigint;
  length: number;
  partition: number;
  /** Index into ReadPlan.regions. */
  region: number;
  blockCount: number;
  mapMin: number;
  mapMax: number;
  /** CRC32C of the run's bytes, or null when the index has none for it. */
  crc32c: number | null;
}
/** The winning attempt of one map. */
export interface MapCommit { mapId: number; attempt: number; batchCount: number }
export interface ReadPlan {
  type: 'ReadPlan';
  leaseId: number;
  /** Packed UCX remote keys, one per registered segment. */
  regions: Buffer[];
  runs: RunLocation[];
  commits: MapCommit[];
}
export interface ReleaseRead { type: 'ReleaseRead'; leaseId: number }

// Objects (FRAMING.md, "Objects").
export interface CreateObject { type: 'CreateObject'; path: string; overwrite: boolean; ttlMs: number; cache: boolean }
export interface ObjectCreated { type: 'ObjectCreated'; handle: number }
/** The frame body carries the `length` bytes. */
export interface AppendObject { type: 'AppendObject'; handle: number; offset: number; length: number; crc32c: number }
export interface CloseObject { type: 'CloseObject'; handle: number; length: number }
export interface AbortObject { type: 'AbortObject'; handle: number }
export interface StatPath { type: 'StatPath'; path: string }
/** What a path names. */
export interface PathInfo {
  /** The last component (ListDir), or the whole path (StatPath, CloseObject). */
  name: string;
  kind: PathKind;
  length: number;
  mtimeMs: number;
  id: number;
  ttlMs: number;
  cache: boolean;
  /** `kind:path` of the tier holding the file's first segment; empty for directories and empty files. */
  tier: string;
}
export interface PathStatus extends PathInfo { type: 'PathStatus' }
export interface ListDir { type: 'ListDir'; path: string; startAfter: string; limit: number }
export interface DirListing { type: 'DirListing'; entries: PathInfo[]; more: boolean }
export interface MakeDirs { type: 'MakeDirs'; path: string }
export interface RenamePath { type: 'RenamePath'; from: string; to: string }
export interface DeletePath { type: 'DeletePath'; path: string; recursive: boolean }
export interface DeleteResult { type: 'DeleteResult'; deleted: boolean }
export interface OpenObject { type: 'OpenObject'; path: string; offset: number; length: number; creditBytes: number; id: number }

export type Message =
  | Hello
  | HelloAck
  | Heartbeat
  | RegisterShuffle
  | UnregisterShuffle
  | UnregisterApp
  | PushBlocks
  | CommitMap
  | CommitAck
  | OpenRead
  | ReadData
  | ReadCredit
  | ReadEnd
  | CancelRead
  | Ack
  | ErrorMessage
  | PlanRead
  | ReadPlan
  | ReleaseRead
  | CreateObject
  | ObjectCreated
  | AppendObject
  | CloseObject
  | AbortObject
  | StatPath
  | PathStatus
  | ListDir
  | DirListing
  | MakeDirs
  | RenamePath
  | DeletePath
  | DeleteResult
  | OpenObject;

export type MessageType = Message['type'];

/** A decoded frame: the message, the request it belongs to, and its raw body. */
export interface Frame<M extends Message = Message> {
  requestId: number;
  message: M;
  /** Stored bytes of the blocks named by the message, in header order, or an AppendObject's bytes (a view, not a copy). */
  body: Buffer;
}
