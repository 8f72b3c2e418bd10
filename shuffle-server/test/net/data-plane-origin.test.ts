// The data plane refuses WebSocket upgrades from web pages: an upgrade with an
// Origin header is refused unless the origin is listed in dataPlaneOrigins.
// Upgrades without Origin (the TypeScript and Java clients) and the HTTP
// endpoints are not affected.
import test from 'ava';
import { decodeFrame, encodeFrame } from '../../../schemas/ts/codec.js';
import { PROTOCOL_VERSION } from '../../../schemas/ts/version.js';
import { RawClient } from '../helpers/raw-client.js';
import { OP, clientFrame, httpExchange, rawConnect, rawUpgrade, type HttpAnswer } from '../helpers/raw-socket.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

const LISTED = 'https://dash.example:8443';
let server: ServerProcess;

test.before(async () => {
  server = await startServer({ args: ['--data-plane-origins', `http://other.example,${LISTED}`] });
});

test.after.always(async () => {
  if (server) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

/** The upgraded connection completes the Pegasus handshake. */
async function assertHandshake(a: HttpAnswer): Promise<string> {
  if (a.ws === null) return `not upgraded: ${a.status} ${a.body}`;
  await a.ws.write(clientFrame(OP.BINARY, encodeFrame(1, { type: 'Hello', protocolVersion: PROTOCOL_VERSION, client: 'origin-test' })));
  const f = await a.ws.next();
  a.ws.destroy();
  return f === null ? 'closed' : decodeFrame(f.payload).message.type;
}

test('UpgradeFromAForeignOriginIsRefusedWith403', async (t) => {
  const a = await rawUpgrade(server.address, { Origin: 'http://evil.example' });
  t.is(a.status, 403);
  t.is(a.ws, null);
  t.regex(a.headers['content-type'] ?? '', /application\/json/);
  const body = JSON.parse(a.body) as { code: string; message: string };
  t.is(body.code, 'UNAUTHORIZED');
  t.regex(body.message, /origin http:\/\/evil\.example may not open the data plane/);
});

test('OriginsMatchExactly', async (t) => {
  for (const origin of ['https://dash.example', 'https://dash.example:8443/', 'HTTPS://DASH.EXAMPLE:8443', 'null']) {
    t.is((await rawUpgrade(server.address, { Origin: origin })).status, 403, origin);
  }
});

test('UpgradeFromAListedOriginIsAccepted', async (t) => {
  const a = await rawUpgrade(server.address, { Origin: LISTED });
  t.is(a.status, 101);
  t.is(await assertHandshake(a), 'HelloAck');
});

test('UpgradeWithoutOriginIsAccepted', async (t) => {
  t.is(await assertHandshake(await rawUpgrade(server.address)), 'HelloAck');
  // The ws library, which the TypeScript client uses, sends no Origin.
  const c = await RawClient.connect(server.address);
  t.false(c.closed);
  c.close();
});

test('HttpEndpointsIgnoreOrigin', async (t) => {
  const res = await fetch(`http://${server.address}/healthz`, { headers: { Origin: 'http://evil.example' } });
  t.is(res.status, 200);
  await res.arrayBuffer();
});

test('UpgradeAfterAnHttpRequestOnTheSameConnectionIsRefused', async (t) => {
  const socket = rawConnect(server.address);
  try {
    const first = await httpExchange(socket, `GET /healthz HTTP/1.1\r\nHost: ${server.address}\r\n\r\n`);
    t.is(first.status, 200);
    const second = await httpExchange(socket, `GET /ws HTTP/1.1\r\nHost: ${server.address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    t.is(second.status, 400);
    t.is((JSON.parse(second.body) as { code: string }).code, 'INVALID_ARGUMENT');
  } finally {
    socket.destroy();
  }
});
