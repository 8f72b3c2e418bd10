// The JSON shapes of the admin HTTP API, version 1, declared once for the server
// that answers (shuffle-server/src/admin/) and the clients that ask (shufflectl,
// shuffle-client/src/cli/). Prose spec: shuffle-server/src/admin/ADMIN_API.md.
//
// Names follow the server's types (AppInfo, ShuffleInfo, CleanupResult,
// VerifyResult, DecommissionState in shuffle-service.ts). Request bodies are
// `...Body` types: their fields are optional on the wire, unlike the service's
// own CleanupRequest, which has every default applied.
//
// Compatibility: v1 only grows. A field is never removed from or given another
// meaning in an answer; new fields may appear. A client that may talk to servers
// of other builds reads answers as Received<T>.
import type { ErrorCodeName } from './errors.js';

/** Every admin path starts with this; an incompatible version gets a new prefix. */
export const ADMIN_API_PREFIX = '/api/v1/';

/** Any failure: `{code, message}` with an HTTP status by code (ADMIN_API.md "Errors"). */
export interface AdminError {
  code: ErrorCodeName;
  message: string;
}

// ---- GET /api/v1/status ----

/** The memory budget for buffered blocks. */
export interface MemoryStatus {
  budgetBytes: number;
  usedBytes: number;
  waitingBytes: number;
}

export interface TierStatus {
  /** `kind:path`, the metrics label. */
  tier: string;
  /** The tier's kind as configured (config key `tiers`: pmem, nvme, ssd, hdd, disk). */
  kind: string;
  path: string;
  capacityBytes: number;
  usedBytes: number;
  /** Free bytes of the tier's file system; 0 before the first check. */
  freeBytes: number;
  /** Segments are written through libpmem2. */
  pmemWrites: boolean;
}

export interface NativeModuleStatus {
  loaded: boolean;
  /** Why the module is not loaded; null when it is. */
  reason: string | null;
  crc32c: 'native' | 'portable';
}

export interface UcxStatus {
  enabled: boolean;
  port: number;
  /** Why UCX is off; null when it runs. */
  reason: string | null;
  endpoints: number;
  registeredBytes: number;
}

export type DecommissionState = 'active' | 'decommissioning' | 'drained';

/** GET, POST and DELETE /api/v1/decommission answer this; /status carries it too. */
export interface DecommissionStatus {
  state: DecommissionState;
  /** Shuffles the server still holds. */
  shuffles: number;
}

export interface ServerStatus {
  version: string;
  pid: number;
  startedAtMs: number;
  uptimeMs: number;
  host: string;
  port: number;
  memory: MemoryStatus;
  diskUsedBytes: number;
  tiers: TierStatus[];
  apps: number;
  shuffles: number;
  connections: number;
  native: NativeModuleStatus;
  ucx: UcxStatus;
  decommission: DecommissionStatus;
}

// ---- /api/v1/apps ----

export interface AppInfo {
  appId: string;
  lastSeenMs: number;
  idleMs: number;
  shuffles: number;
  diskBytes: number;
}

/** GET /api/v1/apps. */
export interface AppsResponse {
  apps: AppInfo[];
}

/** GET /api/v1/apps/{appId}. */
export interface AppDetail extends AppInfo {
  shuffleIds: number[];
}

export interface RemovedApp {
  appId: string;
  shuffles: number;
  diskBytes: number;
}

/** DELETE /api/v1/apps/{appId}. */
export interface RemoveAppResponse {
  removed: RemovedApp;
}

// ---- /api/v1/shuffles ----

export interface ShuffleInfo {
  appId: string;
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
  committedMaps: number;
  diskBytes: number;
  bufferedBytes: number;
  pushedBytes: number;
  createdAtMs: number;
  lastActivityMs: number;
}

/** GET /api/v1/shuffles[?app=APP]. */
export interface ShufflesResponse {
  shuffles: ShuffleInfo[];
}

export interface RemovedShuffle {
  appId: string;
  shuffleId: number;
  diskBytes: number;
}

/** DELETE /api/v1/apps/{appId}/shuffles/{shuffleId}. */
export interface RemoveShuffleResponse {
  removed: RemovedShuffle;
}

// ---- POST /api/v1/cleanup ----

/** The body; at least one of `expired`, `orphans` must be true. Absent is false. */
export interface CleanupBody {
  expired?: boolean;
  orphans?: boolean;
  dryRun?: boolean;
}

export interface OrphanFile {
  path: string;
  bytes: number;
}

export interface CleanupResult {
  dryRun: boolean;
  expiredApps: string[];
  orphans: OrphanFile[];
  freedBytes: number;
}

// ---- GET and POST /api/v1/quotas ----

/** Sets the quota of a top-level directory of the file namespace; bytesMax and objectsMax 0 (or absent) mean no limit, both 0 removes it. */
export interface QuotaBody {
  dir: string;
  bytesMax?: number;
  objectsMax?: number;
}

export interface QuotaInfo {
  /** The top-level directory's name (no slash). */
  dir: string;
  bytesMax: number;
  objectsMax: number;
  /** Bytes of its closed files. */
  bytesUsed: number;
  /** Its files and directories, itself included. */
  objectsUsed: number;
  /** Bytes appended to files still being written under it (they count against bytesMax too). */
  writingBytes: number;
}

export interface QuotasResponse {
  quotas: QuotaInfo[];
}

// ---- POST /api/v1/verify ----

/** The body; `shuffle` needs `app`; both absent is every shuffle. */
export interface VerifyBody {
  app?: string;
  shuffle?: number;
}

export interface VerifyError {
  appId: string;
  shuffleId: number;
  code: ErrorCodeName;
  message: string;
}

export interface VerifyResult {
  shuffles: number;
  runs: number;
  blocks: number;
  bytes: number;
  errors: VerifyError[];
}

// ---- GET /api/v1/errors ----

export interface RecentError {
  atMs: number;
  code: string;
  message: string;
}

export interface ErrorsResponse {
  errors: RecentError[];
}

// ---- reading answers ----

/**
 * An answer as a client should read it when the server may be of another build:
 * every field, at any depth, may be absent (an older server lacks it). Arrays and
 * unions keep their element types, each element read the same way.
 */
export type Received<T> =
  T extends ReadonlyArray<infer E> ? Array<Received<E>>
    : T extends object ? { [K in keyof T]?: Received<T[K]> }
      : T;
