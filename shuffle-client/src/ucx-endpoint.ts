// The UCX endpoint of a connection: one native UcxClient per Connection,
// connected on first use to the server's UCX listener (same host, the port from
// HelloAck), closed when the connection closes. Readers share it.
import type { UcxClient } from '../../native/binding.cjs';
import { fromNativeError } from '../../native/ts/errors.js';
import { nativeBinding, nativeStatus } from '../../native/ts/index.js';
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import type { Connection } from './connection.js';
import { CONNECT_TIMEOUT_MS_DEFAULT } from './limits.js';

const endpoints = new WeakMap<Connection, Promise<UcxClient>>();
let warned = false;

/**
 * Why UCX cannot be used on `conn`, or null when it can. A missing native
 * module is said once per process, as a process warning (the library leaves
 * logging to the application).
 */
export function ucxUnavailable(conn: Connection): string | null {
  if (conn.ucxPort === 0) return `server ${conn.address} has no UCX transport`;
  if (nativeBinding() === null) {
    const reason = nativeStatus().reason ?? 'native module not loaded';
    if (!warned) {
      warned = true;
      process.emitWarning(`Pegasus client: ${reason}; reading over WebSocket`, { code: 'PEGASUS_NATIVE_UNAVAILABLE' });
    }
    return reason;
  }
  return null;
}

/** The connection's UCX endpoint; TRANSPORT_UNAVAILABLE when there is none to have. */
export function ucxEndpoint(conn: Connection): Promise<UcxClient> {
  const known = endpoints.get(conn);
  if (known !== undefined) return known;
  const why = ucxUnavailable(conn);
  if (why !== null) return Promise.reject(new PegasusError(ErrorCode.TRANSPORT_UNAVAILABLE, why));
  if (conn.closed) return Promise.reject(new PegasusError(ErrorCode.CONNECTION_CLOSED, `connection to ${conn.address} is closed`));
  const binding = nativeBinding()!;
  const timeoutMs = conn.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
  // With the worker address UCX picks the lanes itself (RDMA where present; with
  // UCX 1.13 and peer-failure handling, TCP between processes on one host, see
  // native/UCX.md); the listener is the fallback.
  const connect = conn.ucxAddress.length > 0
    ? binding.UcxClient.connectAddress(conn.ucxAddress, timeoutMs).catch(() => binding.UcxClient.connect(conn.host, conn.ucxPort, timeoutMs))
    : binding.UcxClient.connect(conn.host, conn.ucxPort, timeoutMs);
  const endpoint = connect.then(
    (client) => {
      void conn.whenClosed().then(() => client.close().catch(() => undefined));
      return client;
    },
    (err: unknown) => {
      endpoints.delete(conn); // a later read may try again
      const e = fromNativeError(err, ErrorCode.CONNECTION_CLOSED);
      throw new PegasusError(e.wireCode, `UCX connect to ${conn.host}:${conn.ucxPort}: ${e.message}`, { cause: err });
    },
  );
  endpoints.set(conn, endpoint);
  return endpoint;
}

/** Forgets a failed endpoint so that the next read connects anew. */
export function dropUcxEndpoint(conn: Connection, client: UcxClient): void {
  void endpoints.get(conn)?.then((c) => {
    if (c === client) endpoints.delete(conn);
  }, () => undefined);
  void client.close().catch(() => undefined);
}
