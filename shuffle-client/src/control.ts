// Typed helpers for the control requests: register and unregister shuffles
// and applications, and keep an application alive with heartbeats. Each is
// one request with one Ack; errors are the server's codes.
import { ErrorCode, PegasusError, toPegasusError } from '../../schemas/ts/errors.js';
import { checkAppId } from '../../schemas/ts/ids.js';
import { MAPS_PER_SHUFFLE_MAX, PARTITIONS_PER_SHUFFLE_MAX } from '../../schemas/ts/limits.js';
import { checkInt, U32_MAX } from './argument-checks.js';
import type { Connection } from './connection.js';
import { HEARTBEAT_INTERVAL_MS_MIN, REQUEST_TIMEOUT_MS_MAX } from './limits.js';

export interface ShuffleSpec {
  appId: string;
  shuffleId: number;
  numMaps: number;
  numPartitions: number;
}


/** Registers a shuffle (and its application). Idempotent; other sizes for an existing shuffle are CONFLICT. */
export async function registerShuffle(conn: Connection, spec: ShuffleSpec): Promise<void> {
  await conn.request({
    type: 'RegisterShuffle',
    appId: checkAppId(spec.appId),
    shuffleId: checkInt(spec.shuffleId, 0, U32_MAX, 'shuffleId'),
    numMaps: checkInt(spec.numMaps, 0, MAPS_PER_SHUFFLE_MAX, 'numMaps'),
    numPartitions: checkInt(spec.numPartitions, 1, PARTITIONS_PER_SHUFFLE_MAX, 'numPartitions'),
  });
}

/** Removes a shuffle's data. Unknown shuffles are acknowledged too. */
export async function unregisterShuffle(conn: Connection, appId: string, shuffleId: number): Promise<void> {
  await conn.request({ type: 'UnregisterShuffle', appId: checkAppId(appId), shuffleId: checkInt(shuffleId, 0, U32_MAX, 'shuffleId') });
}

/** Removes an application and all its shuffles. */
export async function unregisterApp(conn: Connection, appId: string): Promise<void> {
  await conn.request({ type: 'UnregisterApp', appId: checkAppId(appId) });
}

/** Tells the server the application is alive (registering it if unknown). */
export async function heartbeat(conn: Connection, appId: string): Promise<void> {
  await conn.request({ type: 'Heartbeat', appId: checkAppId(appId) });
}

/**
 * Sends a heartbeat every `intervalMs` until the returned function is called.
 * At most one heartbeat is outstanding: a tick while one is pending is
 * skipped. Failures go to `onError` (the library does not log); the timer
 * keeps going, because a later heartbeat may succeed. The timer does not keep
 * the process alive.
 */
export function startHeartbeat(conn: Connection, appId: string, intervalMs: number, onError?: (err: PegasusError) => void): () => void {
  checkAppId(appId);
  checkInt(intervalMs, HEARTBEAT_INTERVAL_MS_MIN, REQUEST_TIMEOUT_MS_MAX, 'intervalMs');
  let pending = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (pending || stopped) return;
    if (conn.closed) {
      onError?.(new PegasusError(ErrorCode.CONNECTION_CLOSED, `heartbeat for ${appId}: connection to ${conn.address} is closed`));
      return;
    }
    pending = true;
    heartbeat(conn, appId).then(
      () => {
        pending = false;
      },
      (err: unknown) => {
        pending = false;
        if (!stopped) onError?.(toPegasusError(err));
      },
    );
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
