// Merging the answers of several servers into one row per application and
// per shuffle. An application (or shuffle) spread over servers is one row:
// sizes and counts summed, the servers listed. Answers are read as Received<>:
// a server of another build may lack a field; a row without its ids cannot be
// named and is left out.
import type { AppInfo, AppsResponse, Received, ShuffleInfo } from '../../../schemas/ts/admin-api.js';
import type { ServerResult } from './fan-out.js';

/** A row of GET /api/v1/shuffles from any server: its ids present, other fields maybe absent. */
export type ShuffleRow = Received<ShuffleInfo> & Pick<ShuffleInfo, 'appId' | 'shuffleId'>;

export function hasShuffleIds(s: Received<ShuffleInfo>): s is ShuffleRow {
  return typeof s.appId === 'string' && typeof s.shuffleId === 'number';
}

function hasAppId(a: Received<AppInfo>): a is Received<AppInfo> & Pick<AppInfo, 'appId'> {
  return typeof a.appId === 'string';
}

export interface MergedApp {
  appId: string;
  servers: string[];
  shuffles: number;
  diskBytes: number;
  /** Latest contact on any server. */
  lastSeenMs: number | undefined;
  /** Shortest silence on any server. */
  idleMs: number | undefined;
}

export interface MergedShuffle {
  appId: string;
  shuffleId: number;
  servers: string[];
  numMaps: number | undefined;
  numPartitions: number | undefined;
  /**
   * The largest count of any one server, not the sum: every map commits on
   * each server holding its partitions, so a sum would count a map once per
   * server. Without map ids the union cannot be known; the maximum is its
   * lower bound and exact when every map writes to every server.
   */
  committedMaps: number | undefined;
  diskBytes: number;
  bufferedBytes: number;
  pushedBytes: number;
  createdAtMs: number | undefined;
  lastActivityMs: number | undefined;
}

const sum = (a: number, b: number | undefined): number => a + (b ?? 0);
function max(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}
function min(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

export function mergeApps(results: ReadonlyArray<ServerResult<Received<AppsResponse>>>): MergedApp[] {
  const byId = new Map<string, MergedApp>();
  for (const r of results) {
    if (!r.ok) continue;
    for (const a of r.value.apps ?? []) {
      if (!hasAppId(a)) continue;
      const m = byId.get(a.appId) ?? { appId: a.appId, servers: [], shuffles: 0, diskBytes: 0, lastSeenMs: undefined, idleMs: undefined };
      m.servers.push(r.server);
      m.shuffles = sum(m.shuffles, a.shuffles);
      m.diskBytes = sum(m.diskBytes, a.diskBytes);
      m.lastSeenMs = max(m.lastSeenMs, a.lastSeenMs);
      m.idleMs = min(m.idleMs, a.idleMs);
      byId.set(a.appId, m);
    }
  }
  return [...byId.values()].sort((x, y) => (x.appId < y.appId ? -1 : x.appId > y.appId ? 1 : 0));
}

export function mergeShuffles(results: ReadonlyArray<ServerResult<{ shuffles?: ReadonlyArray<Received<ShuffleInfo>> }>>): MergedShuffle[] {
  const byKey = new Map<string, MergedShuffle>();
  for (const r of results) {
    if (!r.ok) continue;
    for (const s of r.value.shuffles ?? []) {
      if (!hasShuffleIds(s)) continue;
      const key = `${s.appId}\u0000${s.shuffleId}`;
      const m = byKey.get(key) ?? {
        appId: s.appId, shuffleId: s.shuffleId, servers: [], numMaps: undefined, numPartitions: undefined, committedMaps: undefined,
        diskBytes: 0, bufferedBytes: 0, pushedBytes: 0, createdAtMs: undefined, lastActivityMs: undefined,
      };
      m.servers.push(r.server);
      // Every server registers the shuffle with the same sizes; max() keeps a row whole if one is missing them.
      m.numMaps = max(m.numMaps, s.numMaps);
      m.numPartitions = max(m.numPartitions, s.numPartitions);
      m.committedMaps = max(m.committedMaps, s.committedMaps);
      m.diskBytes = sum(m.diskBytes, s.diskBytes);
      m.bufferedBytes = sum(m.bufferedBytes, s.bufferedBytes);
      m.pushedBytes = sum(m.pushedBytes, s.pushedBytes);
      m.createdAtMs = min(m.createdAtMs, s.createdAtMs);
      m.lastActivityMs = max(m.lastActivityMs, s.lastActivityMs);
      byKey.set(key, m);
    }
  }
  return [...byKey.values()].sort((x, y) => (x.appId < y.appId ? -1 : x.appId > y.appId ? 1 : x.shuffleId - y.shuffleId));
}
