// Server addresses as users write them ("host:port", "[v6]:port") and the
// WebSocket URL they stand for. The data plane lives at /ws on the server's
// one port (FRAMING.md "Transport").
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';

/** Parses "host:port" or "[v6]:port" into a ws URL, or throws INVALID_ARGUMENT. */
export function serverUrl(address: string): string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `server address ${JSON.stringify(address)} is not host:port`);
  }
  return `ws://${m[1]!}:${port}/ws`;
}
