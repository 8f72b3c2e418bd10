// One client connection: the handshake, request dispatch, the push window and
// the read streams.
//
// Ordering: requests on one connection take effect in the order they were
// sent where the protocol says so (schemas/FRAMING.md, Ordering): a CommitMap
// waits until every PushBlocks sent before it on the connection has been
// buffered or refused, so a commit never overtakes a push that is waiting for
// memory. Frames that cannot be trusted (malformed, unknown type,
// oversized, wrong order) get an Error and close the connection; any other
// failure answers that one request and the connection goes on.
import type * as Uws from 'uWebSockets.js';
import { decodeFrame, encodeFrame } from '../../../schemas/ts/codec.js';
import type { Frame, Message } from '../../../schemas/ts/messages.js';
import type { StoredBlock } from '../objects/object-service.js';
import { PEGASUS_VERSION, PROTOCOL_VERSION, PROTOCOL_VERSION_MIN } from '../../../schemas/ts/version.js';
import type { ServerConfig } from '../config.js';
import { ErrorCode, PegasusError, toPegasusError } from '../errors.js';
import {
  FRAGMENT_COPY_BYTES_MAX, FRAGMENT_ZERO_COPY_BYTES_MIN, FRAME_BYTES_MAX, READ_STREAMS_PER_CONNECTION_MAX, SOCKET_HIGH_WATER_BYTES,
} from '../limits.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { PushWindow, ShuffleService } from '../shuffle/shuffle-service.js';
import { ObjectConnection, type ObjectService } from '../objects/object-service.js';
import { fragmentBytes, planFragments } from './message-fragments.js';
import { ReadLeases } from './read-leases.js';
import { ReadStream } from './read-stream.js';
import type { UcxTransport } from './ucx-transport.js';

export interface SessionData {
  session: Session | null;
  remote: string;
}

const EMPTY = Buffer.alloc(0);
/** Where sendMessage() copies small pieces together; one for the process (event loop only, free again once uWS returns). */
let scratch: Buffer | null = null;

/**
 * A pub/sub topic every connection subscribes to and nothing is ever published on:
 * it keeps uWS off its shortcut for large sends, which loses data.
 *
 * The uWebSockets.js build in package.json (its uWS lacks the fix of
 * uNetworking/uWebSockets PR 1662) has a shortcut in WebSocket::send for a frame of
 * 16 KiB or more, taken when nothing is queued for the socket, nothing is in the
 * loop's cork buffer, and the socket is not a subscriber: header and payload go out
 * in one writev, without a copy. If the kernel takes no more than the header there (its socket buffer full: a
 * slow reader, or the frame guard's thread not reading while this one sends), uWS
 * queues the rest of the header and drops the payload; send() returns BACKPRESSURE,
 * as for any partial write. The client then takes the next frames' bytes for that
 * frame's payload and reads a header at a wrong offset: the Java client's
 * MALFORMED_FRAME "a frame with reserved bits set", or a ReadData that fails to
 * decode or its CRC32C. Any frame of 16 KiB or more was exposed: ReadData fragments
 * (block data of FRAGMENT_ZERO_COPY_BYTES_MIN or more is a fragment of its own, small
 * pieces are copied together up to FRAGMENT_COPY_BYTES_MAX) and large answers.
 *
 * A subscriber's every frame is formatted into uWS's cork buffer or its send queue,
 * whole, and written from there: one copy in uWS, as for any send that finds the
 * socket backpressured. Nothing is ever published on the topic, so the subscription
 * sends nothing. test/net/full-socket-send.test.ts sends ReadData through a real
 * Session into a socket that keeps filling up.
 */
const NO_SHORTCUT_TOPIC = 'pegasus/never-published';

/** Codes after which the byte stream cannot be trusted and the connection is closed. */
const FATAL = new Set<ErrorCode>([
  ErrorCode.MALFORMED_FRAME, ErrorCode.UNKNOWN_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE,
  ErrorCode.HANDSHAKE_REQUIRED, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.FLOW_CONTROL_VIOLATION,
]);

export class Session {
  closed = false;
  private handshaken = false;
  /** Pushes not yet acknowledged (at most pushWindow): a commit waits for those sent before it. */
  private readonly pushesInFlight = new Set<Promise<unknown>>();
  /** This connection's share of the memory budget's in-flight reserve. */
  private readonly pushWindow: PushWindow;
  private readonly streams = new Map<number, ReadStream>();
  /** process.hrtime.bigint() when each open read stream was opened (pegasus_read_latency_seconds). */
  private readonly streamStartNs = new Map<number, bigint>();
  /** UCX read leases; null when the server has no UCX transport. */
  private readonly leases: ReadLeases | null;
  /** Objects this connection is writing. */
  private readonly objectWriters: ObjectConnection;

  constructor(
    private readonly ws: Uws.WebSocket<SessionData>,
    private readonly service: ShuffleService,
    private readonly objects: ObjectService,
    private readonly cfg: ServerConfig,
    readonly metrics: ServerMetrics,
    private readonly log: Logger,
    private readonly ucx: UcxTransport | null,
  ) {
    this.leases = ucx === null ? null : new ReadLeases(service, metrics);
    this.pushWindow = service.openPushWindow();
    this.objectWriters = new ObjectConnection(objects);
    ws.subscribe(NO_SHORTCUT_TOPIC);
  }

  // ---------------------------------------------------------------------------
  // Sending

  send(frame: Buffer): void {
    if (this.closed) return;
    let status = 0;
    this.ws.cork(() => {
      status = this.ws.send(frame, true, false);
    });
    this.closeIfDropped(status);
  }

  /**
   * Sends one message made of `head` and `body` (the parts are read during the
   * call only) as WebSocket fragments: large body parts without a copy, small
   * pieces copied together (message-fragments.ts).
   */
  sendMessage(head: Buffer, body: readonly Uint8Array[]): void {
    if (this.closed) return;
    const parts = [head, ...body];
    const fragments = planFragments(parts, FRAGMENT_ZERO_COPY_BYTES_MIN, FRAGMENT_COPY_BYTES_MAX);
    const copy = scratch ??= Buffer.allocUnsafeSlow(FRAGMENT_COPY_BYTES_MAX);
    let status = 0;
    this.ws.cork(() => {
      const last = fragments.length - 1;
      if (last === 0) {
        status = this.ws.send(fragmentBytes(fragments[0]!, parts, copy), true, false);
        return;
      }
      // uWS copies each fragment before returning (the socket is a subscriber, so
      // never by its shortcut: NO_SHORTCUT_TOPIC), so the scratch buffer is free
      // again for the next one. The fragment calls report no drop the way send()
      // does; none can happen, as with send(): streams send only below high water,
      // and maxBackpressure is set above high water plus the largest message.
      for (let i = 0; i <= last; i++) {
        const bytes = fragmentBytes(fragments[i]!, parts, copy);
        if (i === 0) this.ws.sendFirstFragment(bytes, true, false);
        else if (i === last) this.ws.sendLastFragment(bytes, false);
        else this.ws.sendFragment(bytes, false);
      }
    });
    this.closeIfDropped(status);
  }

  /** uWS send status 2: dropped. maxBackpressure is set above high water plus the largest frame, so the peer stopped reading; nothing sent later can be trusted. */
  private closeIfDropped(status: number): void {
    if (status !== 2) return;
    this.log.warn('send dropped by backpressure limit, closing', { remote: this.remote() });
    this.closeNow(1011, 'backpressure limit');
  }

  backpressured(): boolean {
    return !this.closed && this.ws.getBufferedAmount() > SOCKET_HIGH_WATER_BYTES;
  }

  answer(requestId: number, message: Message): void {
    this.send(encodeFrame(requestId, message));
    if (message.type === 'ReadEnd') {
      const start = this.streamStartNs.get(requestId);
      if (start !== undefined) this.metrics.readLatency.observeSince(start);
    }
  }

  answerError(requestId: number, err: unknown): void {
    const e = toPegasusError(err);
    this.metrics.error(e.wireCode, e.message);
    if (e.wireCode === ErrorCode.INTERNAL || e.wireCode === ErrorCode.STORAGE_IO) {
      this.log.error('request failed', { code: e.code, error: e.message, remote: this.remote() });
    }
    this.answer(requestId, { type: 'Error', code: e.wireCode, message: e.message });
    if (FATAL.has(e.wireCode)) this.closeNow(1002, e.code);
  }

  /** Closes the connection as a failing network would (injected faults only: engine/faults.ts). */
  cut(): void {
    this.closeNow(1011, 'fault injected: read cut');
  }

  private remote(): string {
    return this.closed ? 'closed' : this.ws.getUserData().remote;
  }

  private closeNow(code: number, reason: string): void {
    if (this.closed) return;
    try {
      this.ws.end(code, reason);
    } catch {
      // already closed underneath
    }
    this.onClose();
  }

  // ---------------------------------------------------------------------------
  // uWS callbacks

  onMessage(data: ArrayBuffer, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) {
      this.answerError(0, new PegasusError(ErrorCode.MALFORMED_FRAME, 'text frames are not part of the protocol; send binary frames'));
      return;
    }
    if (data.byteLength > FRAME_BYTES_MAX) {
      this.answerError(0, new PegasusError(ErrorCode.MESSAGE_TOO_LARGE, `frame of ${data.byteLength} bytes exceeds ${FRAME_BYTES_MAX}`));
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(new Uint8Array(data));
    } catch (err) {
      // Any frame that does not decode is fatal: its request id cannot be trusted either.
      const e = toPegasusError(err, ErrorCode.MALFORMED_FRAME);
      this.answerError(0, FATAL.has(e.wireCode) ? e : new PegasusError(ErrorCode.MALFORMED_FRAME, e.message));
      return;
    }
    if (!this.handshaken && frame.message.type !== 'Hello') {
      this.answerError(frame.requestId, new PegasusError(ErrorCode.HANDSHAKE_REQUIRED, `first frame must be Hello, got ${frame.message.type}`));
      return;
    }
    try {
      this.dispatch(frame);
    } catch (err) {
      this.answerError(frame.requestId, err);
    }
  }

  onDrain(): void {
    for (const s of this.streams.values()) s.notify();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.cancel();
    this.leases?.close();
    this.pushWindow.close();
    this.objectWriters.closeAll();
  }

  endStream(requestId: number): void {
    this.streams.delete(requestId);
    this.streamStartNs.delete(requestId);
  }

  // ---------------------------------------------------------------------------
  // Requests

  /** Runs an async request and answers it; the connection outlives failures. */
  private reply(requestId: number, work: Promise<Message>): void {
    work.then(
      (m) => this.answer(requestId, m),
      (err: unknown) => this.answerError(requestId, err),
    );
  }

  private dispatch(frame: Frame): void {
    const { requestId, message: m } = frame;
    switch (m.type) {
      case 'Hello':
        if (m.protocolVersion < PROTOCOL_VERSION_MIN || m.protocolVersion > PROTOCOL_VERSION) {
          throw new PegasusError(ErrorCode.UNSUPPORTED_VERSION, `protocol version ${m.protocolVersion} not in ${PROTOCOL_VERSION_MIN}..${PROTOCOL_VERSION}`);
        }
        this.handshaken = true;
        this.answer(requestId, {
          type: 'HelloAck', protocolVersion: PROTOCOL_VERSION, serverVersion: PEGASUS_VERSION,
          frameBytesMax: FRAME_BYTES_MAX, pushWindow: this.cfg.pushWindow, readFrameBytes: this.cfg.readFrameBytes,
          ucxPort: this.ucx?.port ?? 0,
          ucxAddress: this.ucx?.workerAddress ?? EMPTY,
        });
        return;
      case 'Heartbeat':
        this.reply(requestId, this.service.heartbeat(m.appId).then(() => ({ type: 'Ack' })));
        return;
      case 'RegisterShuffle':
        // Refused with DECOMMISSIONING while decommissioning unless the shuffle is already here (ShuffleService).
        this.reply(requestId, this.service.registerShuffle(m).then(() => ({ type: 'Ack' })));
        return;
      case 'UnregisterShuffle':
        this.reply(requestId, this.service.unregisterShuffle(m.appId, m.shuffleId).then(() => ({ type: 'Ack' })));
        return;
      case 'UnregisterApp':
        this.reply(requestId, this.service.unregisterApp(m.appId).then(() => ({ type: 'Ack' })));
        return;
      case 'PushBlocks': {
        if (this.pushesInFlight.size >= this.cfg.pushWindow) {
          throw new PegasusError(ErrorCode.FLOW_CONTROL_VIOLATION, `more than ${this.cfg.pushWindow} pushes in flight (push_window)`);
        }
        // push() checks and copies the frame body synchronously, before uWS reuses it.
        const startNs = process.hrtime.bigint();
        const done = this.service.push(m, frame.body, this.pushWindow);
        const settled = done.then(() => undefined, () => undefined);
        this.pushesInFlight.add(settled);
        void settled.then(() => this.pushesInFlight.delete(settled));
        this.reply(requestId, done.then(() => {
          this.metrics.pushLatency.observeSince(startNs);
          return { type: 'Ack' };
        }));
        return;
      }
      case 'CommitMap': {
        const startNs = process.hrtime.bigint();
        // Every push sent before this commit on this connection is settled first.
        const earlier = [...this.pushesInFlight];
        const ready = earlier.length === 0 ? Promise.resolve() : Promise.all(earlier);
        this.reply(requestId, ready.then(() => this.service.commit(m)).then((o) => {
          this.metrics.commitLatency.observeSince(startNs);
          return { type: 'CommitAck', won: o.won, winnerAttempt: o.winnerAttempt };
        }));
        return;
      }
      case 'OpenRead': {
        this.checkNewStream(requestId);
        const blocks = this.service.openRead(m);
        const cut = this.service.engine.readCutDue(`${m.appId}/${m.shuffleId}/${m.partitionStart}-${m.partitionEnd}/${m.mapStart}-${m.mapEnd}`);
        const stream = new ReadStream(this, requestId, blocks, m.creditBytes, this.cfg.readFrameBytes, cut);
        this.streams.set(requestId, stream);
        this.streamStartNs.set(requestId, process.hrtime.bigint());
        void stream.run();
        return;
      }
      case 'ReadCredit':
        // A credit may race with the end of its stream; that is not an error.
        this.streams.get(requestId)?.addCredit(m.creditBytes);
        return;
      case 'CancelRead':
        this.streams.get(requestId)?.cancel();
        return;
      case 'PlanRead': {
        const leases = this.leases;
        if (leases === null) {
          throw new PegasusError(ErrorCode.TRANSPORT_UNAVAILABLE, 'this server has no UCX transport (see /healthz); read over WebSocket with OpenRead');
        }
        this.reply(requestId, leases.plan(m));
        return;
      }
      case 'ReleaseRead': {
        const leases = this.leases;
        if (leases === null) throw new PegasusError(ErrorCode.TRANSPORT_UNAVAILABLE, 'this server has no UCX transport');
        leases.release(m.leaseId);
        this.answer(requestId, { type: 'Ack' });
        return;
      }
      // Objects (FRAMING.md "Objects").
      case 'CreateObject':
        this.reply(requestId, this.objectWriters.create(m).then((handle) => ({ type: 'ObjectCreated', handle })));
        return;
      case 'AppendObject': {
        // Counted in the push window and ordered before a later CloseObject, as pushes are before CommitMap.
        if (this.pushesInFlight.size >= this.cfg.pushWindow) {
          throw new PegasusError(ErrorCode.FLOW_CONTROL_VIOLATION, `more than ${this.cfg.pushWindow} pushes and appends in flight (push_window)`);
        }
        this.pushWindow.note(frame.body.length);
        // append() checks and copies the body synchronously, before uWS reuses it.
        const done = this.objectWriters.append(m, frame.body);
        const settled = done.then(() => undefined, () => undefined);
        this.pushesInFlight.add(settled);
        void settled.then(() => this.pushesInFlight.delete(settled));
        this.reply(requestId, done.then(() => ({ type: 'Ack' })));
        return;
      }
      case 'CloseObject': {
        const earlier = [...this.pushesInFlight];
        const ready = earlier.length === 0 ? Promise.resolve() : Promise.all(earlier);
        this.reply(requestId, ready.then(() => this.objectWriters.close(m.handle, m.length)).then((info) => ({ type: 'PathStatus', ...info })));
        return;
      }
      case 'AbortObject': {
        const earlier = [...this.pushesInFlight];
        const ready = earlier.length === 0 ? Promise.resolve() : Promise.all(earlier);
        this.reply(requestId, ready.then(() => this.objectWriters.abort(m.handle)).then(() => ({ type: 'Ack' })));
        return;
      }
      case 'StatPath':
        this.reply(requestId, this.objects.stat(m.path).then((info) => ({ type: 'PathStatus', ...info })));
        return;
      case 'ListDir':
        this.reply(requestId, this.objects.list(m).then((l) => ({ type: 'DirListing', entries: l.entries, more: l.more })));
        return;
      case 'MakeDirs':
        this.reply(requestId, this.objects.mkdirs(m.path).then(() => ({ type: 'Ack' })));
        return;
      case 'RenamePath':
        this.reply(requestId, this.objects.rename(m.from, m.to).then(() => ({ type: 'Ack' })));
        return;
      case 'DeletePath':
        this.reply(requestId, this.objects.delete(m.path, m.recursive).then((deleted) => ({ type: 'DeleteResult', deleted })));
        return;
      case 'OpenObject': {
        this.checkNewStream(requestId);
        // The stream is registered now (credit and cancel find it); its blocks come once the object is looked up.
        const metrics = this.metrics;
        const opened = this.objects.openRead(m);
        async function* blocks(): AsyncGenerator<StoredBlock[]> {
          for await (const window of await opened) {
            let bytes = 0;
            for (const b of window) bytes += b.data.length;
            metrics.objectReadBytes.inc(bytes);
            yield window;
          }
        }
        const stream = new ReadStream(this, requestId, blocks(), m.creditBytes, this.cfg.readFrameBytes, false, false);
        this.streams.set(requestId, stream);
        void stream.run();
        return;
      }
      default:
        throw new PegasusError(ErrorCode.UNKNOWN_MESSAGE, `${m.type} is not a request a server accepts`);
    }
  }

  private checkNewStream(requestId: number): void {
    if (this.streams.has(requestId)) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `read stream ${requestId} is already open`);
    if (this.streams.size >= READ_STREAMS_PER_CONNECTION_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${READ_STREAMS_PER_CONNECTION_MAX} read streams on one connection`);
    }
  }
}
