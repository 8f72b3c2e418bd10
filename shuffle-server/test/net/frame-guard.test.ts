// Client frames uWS would not answer (unmasked, past maxPayloadLength, other
// header rule breaks) get a WebSocket close frame with a status code and a
// reason, over raw TCP so no client library hides what goes over the wire; the
// server's FIN follows, never a reset, and the server goes on serving.
import test, { type ExecutionContext } from 'ava';
import { decodeFrame, encodeFrame } from '../../../schemas/ts/codec.js';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { FRAME_BYTES_MAX } from '../../../schemas/ts/limits.js';
import { PROTOCOL_VERSION } from '../../../schemas/ts/version.js';
import { RawClient } from '../helpers/raw-client.js';
import { OP, clientFrame, frameHeader, httpExchange, rawConnect, rawUpgrade, type RawWebSocket } from '../helpers/raw-socket.js';
import { httpGet, removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';

const MiB = 1024 * 1024;
/** maxPayloadLength in server.ts: frames up to it reach the session, which answers MESSAGE_TOO_LARGE. */
const UWS_PAYLOAD_BYTES_MAX = FRAME_BYTES_MAX + MiB;

let server: ServerProcess;

test.before(async () => {
  server = await startServer();
});

test.after.always(async () => {
  if (server) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

const hello = (): Buffer => encodeFrame(1, { type: 'Hello', protocolVersion: PROTOCOL_VERSION, client: 'raw-socket' });

async function open(): Promise<RawWebSocket> {
  const a = await rawUpgrade(server.address);
  if (a.ws === null) throw new Error(`upgrade refused: ${a.status} ${a.body}`);
  return a.ws;
}

/** The server's close frame arrives with `code`, then its FIN; no reset. */
async function assertClosedWith(t: ExecutionContext, ws: RawWebSocket, code: number, reason: RegExp): Promise<void> {
  const close = await ws.closeFrame();
  t.not(close, null, 'a close frame before the connection ends');
  t.is(close?.code, code);
  t.regex(close?.reason ?? '', reason);
  await ws.finished();
  t.true(ws.ended, 'the server ends the connection with a FIN');
  t.is(ws.error, null, 'no reset');
  ws.destroy();
}

/** The process is up and a new connection completes the handshake. */
async function assertServing(t: ExecutionContext): Promise<void> {
  t.is(server.proc.exitCode, null);
  t.is((await httpGet(server.address, '/healthz')).status, 200);
  const c = await RawClient.connect(server.address);
  t.is((await c.request({ type: 'Heartbeat', appId: 'app-frame-guard' })).message.type, 'Ack');
  c.close();
}

/** An oversized binary frame: header announcing `length`, then `sendBytes` of it (an envelope length first). */
async function sendOversized(ws: RawWebSocket, length: number, sendBytes: number): Promise<void> {
  const body = Buffer.alloc(sendBytes);
  if (sendBytes >= 4) body.writeUInt32LE(16, 0);
  // Not awaited: the server may answer, and stop reading, before all of it is written.
  void ws.write(Buffer.concat([frameHeader(OP.BINARY, length), body]));
}

for (const length of [FRAME_BYTES_MAX + 1, UWS_PAYLOAD_BYTES_MAX]) {
  test.serial(`FrameOf${length}BytesGetsMessageTooLarge`, async (t) => {
    const ws = await open();
    await sendOversized(ws, length, length);
    const f = await ws.next();
    t.not(f, null);
    t.is(f!.opcode, OP.BINARY);
    const m = decodeFrame(f!.payload).message;
    t.is(m.type === 'Error' ? m.code : m.type, ErrorCode.MESSAGE_TOO_LARGE);
    await assertClosedWith(t, ws, 1002, /MESSAGE_TOO_LARGE/);
    await assertServing(t);
  });
}

for (const [length, sendBytes] of [
  [UWS_PAYLOAD_BYTES_MAX + 1, UWS_PAYLOAD_BYTES_MAX + 1],
  [18 * MiB, 18 * MiB],
  [20 * MiB, 20 * MiB],
  [64 * MiB, MiB],
  [2 ** 53, 0],
] as const) {
  test.serial(`FrameOf${length}BytesGetsClose1009${sendBytes < length ? 'BeforeItIsSent' : ''}`, async (t) => {
    const ws = await open();
    await sendOversized(ws, length, sendBytes);
    await assertClosedWith(t, ws, 1009, new RegExp(`frame of ${length} bytes; the largest taken is ${UWS_PAYLOAD_BYTES_MAX}`));
    await assertServing(t);
  });
}

test.serial('FragmentedMessagePastTheLimitGetsClose1009', async (t) => {
  const ws = await open();
  const first = Buffer.alloc(FRAME_BYTES_MAX);
  void ws.write(clientFrame(OP.BINARY, first, { fin: false }));
  void ws.write(frameHeader(OP.CONTINUATION, 2 * MiB));
  await assertClosedWith(t, ws, 1009, new RegExp(`fragmented message of ${FRAME_BYTES_MAX + 2 * MiB} bytes or more`));
  await assertServing(t);
});

test.serial('UnmaskedHelloIsClosedWith1002', async (t) => {
  const ws = await open();
  await ws.write(clientFrame(OP.BINARY, hello(), { masked: false }));
  await assertClosedWith(t, ws, 1002, /not masked/);
  await assertServing(t);
});

test.serial('UnmaskedFrameAfterTheHandshakeIsClosedWith1002AfterEarlierAnswers', async (t) => {
  const ws = await open();
  const heartbeat = encodeFrame(2, { type: 'Heartbeat', appId: 'app-frame-guard' });
  // Both in one write: the answer to the masked Hello still comes first.
  await ws.write(Buffer.concat([clientFrame(OP.BINARY, hello()), clientFrame(OP.BINARY, heartbeat, { masked: false })]));
  const f = await ws.next();
  t.is(f?.opcode, OP.BINARY);
  t.is(decodeFrame(f!.payload).message.type, 'HelloAck');
  await assertClosedWith(t, ws, 1002, /not masked/);
  await assertServing(t);
});

test.serial('FramesSentWithTheUpgradeRequestAreChecked', async (t) => {
  // uWS drops bytes read together with the upgrade request; the guard holds them until uWS has answered.
  const socket = rawConnect(server.address);
  const request = `GET /ws HTTP/1.1\r\nHost: ${server.address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const answer = await httpExchange(socket, Buffer.concat([Buffer.from(request, 'latin1'), clientFrame(OP.BINARY, hello()), clientFrame(OP.BINARY, hello(), { masked: false })]));
  t.is(answer.status, 101);
  const ws = answer.ws!;
  const f = await ws.next();
  t.is(f === null ? 'closed' : decodeFrame(f.payload).message.type, 'HelloAck');
  await assertClosedWith(t, ws, 1002, /not masked/);
});

const headerBreaks: Array<[string, Buffer, RegExp]> = [
  ['ReservedBits', clientFrame(OP.BINARY, hello(), { rsv: 4 }), /reserved bits/],
  ['UndefinedOpcode', clientFrame(3, Buffer.alloc(4)), /opcode 3/],
  ['FragmentedPing', clientFrame(OP.PING, Buffer.alloc(4), { fin: false }), /control frame fragmented/],
  ['LongPing', clientFrame(OP.PING, Buffer.alloc(126)), /control frame payload over 125/],
  ['ContinuationFirst', clientFrame(OP.CONTINUATION, Buffer.alloc(4)), /continuation frame without/],
  ['NewMessageInsideAFragmentedOne', Buffer.concat([clientFrame(OP.BINARY, Buffer.alloc(4), { fin: false }), clientFrame(OP.BINARY, Buffer.alloc(4))]), /data frame inside a fragmented/],
];
for (const [name, bytes, reason] of headerBreaks) {
  test.serial(`${name}IsClosedWith1002`, async (t) => {
    const ws = await open();
    await ws.write(bytes);
    await assertClosedWith(t, ws, 1002, reason);
  });
}

test.serial('InvalidUtf8TextIsClosedWith1007', async (t) => {
  const ws = await open();
  // Split inside the message: the first fragment is valid so far.
  await ws.write(Buffer.concat([clientFrame(OP.TEXT, Buffer.from([0x61, 0xc3]), { fin: false }), clientFrame(OP.CONTINUATION, Buffer.from([0x28]))]));
  await assertClosedWith(t, ws, 1007, /not valid UTF-8/);
  await assertServing(t);
});

test.serial('ValidTextIsStillRefusedAsMalformed', async (t) => {
  const ws = await open();
  await ws.write(Buffer.concat([clientFrame(OP.TEXT, Buffer.from('{"type":', 'utf8'), { fin: false }), clientFrame(OP.CONTINUATION, Buffer.from('"Hello ✓"}', 'utf8'))]));
  const f = await ws.next();
  const m = decodeFrame(f!.payload).message;
  t.is(m.type === 'Error' ? m.code : m.type, ErrorCode.MALFORMED_FRAME);
  await assertClosedWith(t, ws, 1002, /MALFORMED_FRAME/);
});

test.serial('PingsAndFragmentedBinaryMessagesPassTheGuard', async (t) => {
  const ws = await open();
  const frame = hello();
  const cut = 7;
  await ws.write(Buffer.concat([
    clientFrame(OP.PING, Buffer.from('p')),
    clientFrame(OP.BINARY, frame.subarray(0, cut), { fin: false }),
    clientFrame(OP.PING, Buffer.from('q')),
    clientFrame(OP.CONTINUATION, frame.subarray(cut)),
  ]));
  const seen: string[] = [];
  for (;;) {
    const f = await ws.next();
    if (f === null) break;
    if (f.opcode === OP.PONG) seen.push(`pong ${f.payload.toString()}`);
    else {
      seen.push(decodeFrame(f.payload).message.type);
      break;
    }
  }
  t.deepEqual(seen, ['pong p', 'pong q', 'HelloAck']);
  ws.destroy();
});
