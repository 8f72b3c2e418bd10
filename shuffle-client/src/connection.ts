// One WebSocket connection to a Pegasus server (schemas/FRAMING.md).
//
// A Connection does the Hello/HelloAck handshake, matches answers to requests
// by request_id, routes the frames of read streams to their handlers, enforces
// the server's push window, and keeps its own memory bounded:
//   - at most PENDING_REQUESTS_MAX requests wait for answers;
//   - frames wait in a FIFO send queue while more than SEND_BUFFER_BYTES_HIGH
//     bytes are handed to the socket but not yet written (ws' send callback
//     tells when they are), so a slow peer slows the caller, not the heap;
//   - at most push_window PushBlocks are sent without an answer; more wait.
// Every request has a timeout counted from the call. A request that times out
// after it was sent keeps its request_id (and its push window slot) until its
// late answer arrives or the connection closes, because the server still
// counts it: reusing the slot early could exceed the window, which the server
// answers with FLOW_CONTROL_VIOLATION and a close.
//
// Single-threaded: every method runs on the event loop; no method blocks.
import { WebSocket, type RawData } from 'ws';
import { decodeFrame, encodeFrame } from '../../schemas/ts/codec.js';
import { ErrorCode, PegasusError, errorCodeName, toPegasusError } from '../../schemas/ts/errors.js';
import type {
  Ack, CancelRead, CommitAck, CommitMap, Frame, Heartbeat, Hello, HelloAck, Message, OpenRead, PlanRead, PushBlocks,
  ReadCredit, ReadPlan, RegisterShuffle, ReleaseRead, UnregisterApp, UnregisterShuffle,
  AbortObject, AppendObject, CloseObject, CreateObject, DeletePath, DeleteResult, DirListing, ListDir, MakeDirs, ObjectCreated,
  OpenObject, PathStatus, RenamePath, StatPath,
} from '../../schemas/ts/messages.js';
import { FRAME_BYTES_MAX } from '../../schemas/ts/limits.js';
import { PROTOCOL_VERSION } from '../../schemas/ts/version.js';
import { serverUrl } from './server-address.js';
import {
  CLIENT_NAME, CLOSE_TIMEOUT_MS, CONNECT_TIMEOUT_MS_DEFAULT, PENDING_REQUESTS_MAX, PUSH_WINDOW_MAX,
  RECEIVE_PAYLOAD_BYTES_MAX, REQUEST_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_MAX, SEND_BUFFER_BYTES_HIGH,
  SEND_QUEUE_FRAMES_MAX, SERVER_FRAME_BYTES_MIN, STREAMS_MAX,
} from './limits.js';

/** Requests a caller may send with request(); each has exactly one answer. */
export type RequestMessage = Heartbeat | RegisterShuffle | UnregisterShuffle | UnregisterApp | PushBlocks | CommitMap | PlanRead | ReleaseRead
  | CreateObject | AppendObject | CloseObject | AbortObject | StatPath | ListDir | MakeDirs | RenamePath | DeletePath;

interface AnswerMap {
  Hello: HelloAck;
  Heartbeat: Ack;
  RegisterShuffle: Ack;
  UnregisterShuffle: Ack;
  UnregisterApp: Ack;
  PushBlocks: Ack;
  CommitMap: CommitAck;
  PlanRead: ReadPlan;
  ReleaseRead: Ack;
  CreateObject: ObjectCreated;
  AppendObject: Ack;
  CloseObject: PathStatus;
  AbortObject: Ack;
  StatPath: PathStatus;
  ListDir: DirListing;
  MakeDirs: Ack;
  RenamePath: Ack;
  DeletePath: DeleteResult;
}

/** The successful answer to a request type. */
export type AnswerOf<M extends { type: keyof AnswerMap }> = AnswerMap[M['type']];

const ANSWER_TYPE: { [K in keyof AnswerMap]: AnswerMap[K]['type'] } = {
  Hello: 'HelloAck',
  Heartbeat: 'Ack',
  RegisterShuffle: 'Ack',
  UnregisterShuffle: 'Ack',
  UnregisterApp: 'Ack',
  PushBlocks: 'Ack',
  CommitMap: 'CommitAck',
  PlanRead: 'ReadPlan',
  ReleaseRead: 'Ack',
  CreateObject: 'ObjectCreated',
  AppendObject: 'Ack',
  CloseObject: 'PathStatus',
  AbortObject: 'Ack',
  StatPath: 'PathStatus',
  ListDir: 'DirListing',
  MakeDirs: 'Ack',
  RenamePath: 'Ack',
  DeletePath: 'DeleteResult',
};

export interface ConnectionOptions {
  /** Bound on connect + upgrade + handshake. Default CONNECT_TIMEOUT_MS_DEFAULT. */
  connectTimeoutMs?: number;
  /** Default answer timeout of request(). Default REQUEST_TIMEOUT_MS_DEFAULT. */
  requestTimeoutMs?: number;
  /** Sent in Hello. Default CLIENT_NAME. */
  clientName?: string;
}

export interface RequestOptions {
  /** Overrides the connection's requestTimeoutMs for this request. */
  timeoutMs?: number;
}

/** Receiver of one read stream's frames (ReadData, ReadEnd, Error for its request_id). */
export interface StreamHandler {
  /** Called for every frame of the stream; after ReadEnd or Error the stream is gone. */
  onFrame(frame: Frame): void;
  /** Called once if the connection closes while the stream is registered. */
  onClose(err: PegasusError): void;
}

/** Monotonic counters; the library logs nothing, callers may export these. */
export interface ConnectionCounters {
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  requestsTimedOut: number;
  /** Answers that arrived after their request had timed out. */
  lateAnswers: number;
  /** Frames whose request_id matched nothing. */
  unmatchedFrames: number;
}

interface Pending {
  requestId: number;
  type: keyof AnswerMap;
  expect: Message['type'];
  resolve: (frame: Frame) => void;
  reject: (err: PegasusError) => void;
  timer: NodeJS.Timeout | undefined;
  isPush: boolean;
  /** Handed to the socket; the server knows about it. */
  sent: boolean;
  /** Timed out after it was sent: kept only to hold its id and window slot. */
  zombie: boolean;
}

interface Outgoing {
  requestId: number;
  message: Message;
  body: readonly Uint8Array[];
  pending: Pending | undefined;
}

function checkTimeout(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms <= 0 || ms > REQUEST_TIMEOUT_MS_MAX) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `${what} ${ms} must be in 1..${REQUEST_TIMEOUT_MS_MAX} ms`);
  }
  return ms;
}

export class Connection {
  /** The "host:port" this connection was made to; reconnects use it. */
  readonly address: string;
  readonly options: Readonly<ConnectionOptions>;
  readonly counters: ConnectionCounters = {
    framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, requestsTimedOut: 0, lateAnswers: 0, unmatchedFrames: 0,
  };

  // From HelloAck. Valid after connect() resolves.
  serverVersion = '';
  protocolVersion = 0;
  /** Largest frame this client sends: min(server's frame_bytes_max, FRAME_BYTES_MAX). */
  frameBytesMax = FRAME_BYTES_MAX;
  /** Most PushBlocks in flight: min(server's push_window, PUSH_WINDOW_MAX). */
  pushWindow = 1;
  /** The server's target ReadData frame size. */
  readFrameBytes = 0;
  /** Port of the server's UCX listener; 0 when it has none. */
  ucxPort = 0;
  /** The server's UCX worker address; empty when it has none. */
  ucxAddress: Buffer = Buffer.alloc(0);

  private readonly socket: WebSocket;
  private readonly requestTimeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, StreamHandler>();
  private readonly sendQueue: Outgoing[] = [];
  /** PushBlocks waiting for a window slot. */
  private readonly pushWaiters: Outgoing[] = [];
  private pushesInFlight = 0;
  private unflushedBytes = 0;
  private lastRequestId = 0;
  private closeError: PegasusError | undefined;
  /** An Error with request_id 0: the server's reason for the close that follows. */
  private serverError: PegasusError | undefined;
  /** The socket's 'error' (refused, reset, bad upgrade), reported with the close. */
  private socketError: Error | undefined;
  private closedPromise: Promise<void>;

  private constructor(address: string, options: ConnectionOptions, socket: WebSocket) {
    this.address = address;
    this.options = { ...options };
    this.requestTimeoutMs = checkTimeout(options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT, 'requestTimeoutMs');
    this.socket = socket;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    socket.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString('utf8')));
    // 'close' always follows 'error'; the error only adds detail to it.
    socket.on('error', (err: Error) => {
      this.socketError ??= err;
    });
  }

  /**
   * Connects to `address` ("host:port"), upgrades to WebSocket at /ws and
   * completes the handshake. Rejects with CONNECTION_CLOSED when the server
   * cannot be reached, TIMEOUT after connectTimeoutMs, UNSUPPORTED_VERSION when
   * the server speaks another protocol version.
   */
  static async connect(address: string, options: ConnectionOptions = {}): Promise<Connection> {
    const url = serverUrl(address);
    const connectTimeoutMs = checkTimeout(options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT, 'connectTimeoutMs');
    const socket = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: RECEIVE_PAYLOAD_BYTES_MAX,
      handshakeTimeout: connectTimeoutMs,
      // An all-zero key lets ws skip the XOR pass over every byte sent; see
      // FRAMING.md "Transport" for why that is safe inside a cluster.
      generateMask: (mask: Buffer) => {
        mask.fill(0);
      },
    });
    socket.binaryType = 'nodebuffer';
    const conn = new Connection(address, options, socket);
    let timeoutError: PegasusError | undefined;
    const timer = setTimeout(() => {
      timeoutError = new PegasusError(ErrorCode.TIMEOUT, `connecting to ${address} took more than ${connectTimeoutMs} ms`);
      conn.fail(timeoutError);
    }, connectTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('close', () => reject(conn.closedError()));
      });
      const hello: Hello = { type: 'Hello', protocolVersion: PROTOCOL_VERSION, client: options.clientName ?? CLIENT_NAME };
      const ack = await conn.send(hello, [], connectTimeoutMs);
      conn.acceptHello(ack.message as HelloAck);
      return conn;
    } catch (err) {
      const e = timeoutError ?? toPegasusError(err, ErrorCode.CONNECTION_CLOSED);
      conn.fail(e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private acceptHello(ack: HelloAck): void {
    if (ack.protocolVersion !== PROTOCOL_VERSION) {
      throw new PegasusError(ErrorCode.UNSUPPORTED_VERSION,
        `server ${this.address} speaks protocol ${ack.protocolVersion}, this client speaks ${PROTOCOL_VERSION}`);
    }
    if (ack.frameBytesMax < SERVER_FRAME_BYTES_MIN) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT,
        `server ${this.address} advertises frame_bytes_max ${ack.frameBytesMax}, below the client's minimum ${SERVER_FRAME_BYTES_MIN}`);
    }
    if (ack.pushWindow < 1) {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `server ${this.address} advertises push_window ${ack.pushWindow}`);
    }
    this.serverVersion = ack.serverVersion;
    this.protocolVersion = ack.protocolVersion;
    this.frameBytesMax = Math.min(ack.frameBytesMax, FRAME_BYTES_MAX);
    this.pushWindow = Math.min(ack.pushWindow, PUSH_WINDOW_MAX);
    this.readFrameBytes = ack.readFrameBytes > 0 ? Math.min(ack.readFrameBytes, this.frameBytesMax) : this.frameBytesMax;
    this.ucxPort = ack.ucxPort;
    this.ucxAddress = ack.ucxAddress;
  }

  /** Host part of the server address (where its UCX listener is too). */
  get host(): string {
    return new URL(serverUrl(this.address)).hostname.replace(/^\[|\]$/g, '');
  }

  /** Resolves once the socket is closed (after close(), a failure, or the server closing it). */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** True once the socket is closed or closing; every request then fails. */
  get closed(): boolean {
    return this.closeError !== undefined;
  }

  /** Requests waiting for an answer, timed-out ones included. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Sends a request and resolves with its answer. Rejects with the server's
   * code when it answers Error, UNKNOWN_MESSAGE when it answers something
   * else, TIMEOUT, CONNECTION_CLOSED, or LIMIT_EXCEEDED when too many
   * requests are pending. `body` parts are the stored bytes of PushBlocks'
   * blocks, in header order; they must not change until the promise settles.
   */
  request<M extends RequestMessage>(message: M, body: readonly Uint8Array[] = [], options: RequestOptions = {}): Promise<Frame<AnswerOf<M>>> {
    try {
      const timeoutMs = options.timeoutMs === undefined ? this.requestTimeoutMs : checkTimeout(options.timeoutMs, 'timeoutMs');
      return this.send(message, body, timeoutMs) as Promise<Frame<AnswerOf<M>>>;
    } catch (err) {
      return Promise.reject(toPegasusError(err));
    }
  }

  private send(message: Hello | RequestMessage, body: readonly Uint8Array[], timeoutMs: number): Promise<Frame> {
    if (this.closeError !== undefined) return Promise.reject(this.closeError);
    if (this.pending.size >= PENDING_REQUESTS_MAX) {
      return Promise.reject(new PegasusError(ErrorCode.LIMIT_EXCEEDED,
        `${this.pending.size} requests pending on the connection to ${this.address}, limit ${PENDING_REQUESTS_MAX}`));
    }
    const requestId = this.nextRequestId();
    // Appends share the push window with pushes (the server counts both).
    const isPush = message.type === 'PushBlocks' || message.type === 'AppendObject';
    return new Promise<Frame>((resolve, reject) => {
      const p: Pending = {
        requestId, type: message.type, expect: ANSWER_TYPE[message.type], resolve, reject,
        timer: undefined, isPush, sent: false, zombie: false,
      };
      p.timer = setTimeout(() => this.onTimeout(p, timeoutMs), timeoutMs);
      this.pending.set(requestId, p);
      const out: Outgoing = { requestId, message, body, pending: p };
      if (!isPush) {
        this.enqueue(out);
      } else if (this.pushesInFlight < this.pushWindow) {
        this.pushesInFlight++;
        this.enqueue(out);
      } else {
        this.pushWaiters.push(out);
      }
    });
  }

  /**
   * Opens a read stream: sends OpenRead and routes every frame with its
   * request_id to `handler` until ReadEnd or Error. Returns the stream id (the
   * OpenRead's request_id) for sendCredit() and cancelStream(). Throws CONNECTION_CLOSED or
   * LIMIT_EXCEEDED.
   */
  openStream(message: OpenRead | OpenObject, handler: StreamHandler): number {
    if (this.closeError !== undefined) throw this.closeError;
    if (this.streams.size >= STREAMS_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `${this.streams.size} read streams open on the connection to ${this.address}, limit ${STREAMS_MAX}`);
    }
    const requestId = this.nextRequestId();
    this.streams.set(requestId, handler);
    this.enqueue({ requestId, message, body: [], pending: undefined });
    return requestId;
  }

  /** True while `streamId` is registered (neither ended, failed nor cancelled). */
  hasStream(streamId: number): boolean {
    return this.streams.has(streamId);
  }

  /** Read streams registered now. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Sends ReadCredit for an open stream; a no-op once the stream or the connection is gone. */
  sendCredit(streamId: number, creditBytes: number): void {
    if (this.closeError !== undefined || !this.streams.has(streamId)) return;
    const message: ReadCredit = { type: 'ReadCredit', creditBytes };
    this.enqueue({ requestId: streamId, message, body: [], pending: undefined });
  }

  /**
   * Sends CancelRead and forgets the stream at once. The server answers a
   * cancel with nothing (or an Error), so there is no frame to wait for;
   * frames of the stream still in flight count as unmatchedFrames. The id is
   * not reused soon: ids advance through the whole u32 space.
   */
  cancelStream(streamId: number): void {
    if (!this.streams.delete(streamId) || this.closeError !== undefined) return;
    const message: CancelRead = { type: 'CancelRead' };
    this.enqueue({ requestId: streamId, message, body: [], pending: undefined });
  }

  /**
   * Closes the connection. Pending requests and open streams fail with
   * CONNECTION_CLOSED at once; resolves when the socket is closed.
   */
  close(): Promise<void> {
    if (this.closeError === undefined) {
      this.fail(new PegasusError(ErrorCode.CONNECTION_CLOSED, `connection to ${this.address} closed by the client`));
    }
    return this.closedPromise;
  }

  // -------------------------------------------------------------------------
  // Sending

  private nextRequestId(): number {
    // request_id 0 is the server's "could not read your frame"; never use it.
    // The loop ends: the tables hold at most PENDING_REQUESTS_MAX + STREAMS_MAX ids.
    let id = this.lastRequestId;
    do {
      id = (id + 1) >>> 0;
    } while (id === 0 || this.pending.has(id) || this.streams.has(id));
    this.lastRequestId = id;
    return id;
  }

  private enqueue(out: Outgoing): void {
    if (this.sendQueue.length >= SEND_QUEUE_FRAMES_MAX) {
      this.fail(new PegasusError(ErrorCode.LIMIT_EXCEEDED, `send queue to ${this.address} holds ${SEND_QUEUE_FRAMES_MAX} frames`));
      return;
    }
    this.sendQueue.push(out);
    this.flush();
  }

  private flush(): void {
    while (this.sendQueue.length > 0 && this.unflushedBytes < SEND_BUFFER_BYTES_HIGH && this.closeError === undefined) {
      const out = this.sendQueue.shift()!;
      let frame: Buffer;
      try {
        frame = encodeFrame(out.requestId, out.message, out.body);
      } catch (err) {
        this.rejectPending(out, toPegasusError(err, ErrorCode.INVALID_ARGUMENT));
        continue;
      }
      if (frame.length > this.frameBytesMax) {
        this.rejectPending(out, new PegasusError(ErrorCode.MESSAGE_TOO_LARGE,
          `${out.message.type} frame of ${frame.length} bytes exceeds the connection's ${this.frameBytesMax}`));
        continue;
      }
      if (out.pending !== undefined) out.pending.sent = true;
      const bytes = frame.length;
      this.unflushedBytes += bytes;
      this.counters.framesSent++;
      this.counters.bytesSent += bytes;
      this.socket.send(frame, { binary: true }, (err?: Error) => {
        this.unflushedBytes -= bytes;
        if (err !== undefined && err !== null) {
          this.fail(new PegasusError(ErrorCode.CONNECTION_CLOSED, `send to ${this.address} failed: ${err.message}`, { cause: err }));
          return;
        }
        this.flush();
      });
    }
  }

  /** Fails a request that was never sent (bad encoding, too large). */
  private rejectPending(out: Outgoing, err: PegasusError): void {
    const p = out.pending;
    if (p === undefined) return;
    this.pending.delete(p.requestId);
    clearTimeout(p.timer);
    if (p.isPush) this.releasePushSlot();
    p.reject(err);
  }

  private releasePushSlot(): void {
    this.pushesInFlight--;
    const next = this.pushWaiters.shift();
    if (next !== undefined) {
      this.pushesInFlight++;
      this.enqueue(next);
    }
  }

  private onTimeout(p: Pending, timeoutMs: number): void {
    p.timer = undefined;
    this.counters.requestsTimedOut++;
    const err = new PegasusError(ErrorCode.TIMEOUT,
      `${p.type} (request ${p.requestId}) to ${this.address} got no answer within ${timeoutMs} ms`);
    if (p.sent) {
      p.zombie = true;
    } else {
      // Never sent: the server does not know it, so it leaves without a trace.
      this.pending.delete(p.requestId);
      const inQueue = this.sendQueue.findIndex((o) => o.pending === p);
      if (inQueue >= 0) {
        this.sendQueue.splice(inQueue, 1);
        if (p.isPush) this.releasePushSlot();
      } else {
        const waiting = this.pushWaiters.findIndex((o) => o.pending === p);
        if (waiting >= 0) this.pushWaiters.splice(waiting, 1);
      }
    }
    p.reject(err);
  }

  // -------------------------------------------------------------------------
  // Receiving

  private onMessage(data: RawData, isBinary: boolean): void {
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.fail(new PegasusError(ErrorCode.MALFORMED_FRAME, `server ${this.address} sent a text frame`));
      return;
    }
    this.counters.framesReceived++;
    this.counters.bytesReceived += data.length;
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      // A frame we cannot read means we can no longer trust the stream.
      this.fail(toPegasusError(err, ErrorCode.MALFORMED_FRAME));
      return;
    }
    const id = frame.requestId;
    const p = this.pending.get(id);
    if (p !== undefined) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (p.isPush) this.releasePushSlot();
      if (p.zombie) {
        this.counters.lateAnswers++;
        return;
      }
      const m = frame.message;
      if (m.type === 'Error') {
        p.reject(new PegasusError(m.code, `${p.type} to ${this.address}: ${errorCodeName(m.code)}: ${m.message}`));
      } else if (m.type !== p.expect) {
        p.reject(new PegasusError(ErrorCode.UNKNOWN_MESSAGE, `server ${this.address} answered ${p.type} with ${m.type}`));
      } else {
        p.resolve(frame);
      }
      return;
    }
    const stream = this.streams.get(id);
    if (stream !== undefined) {
      const t = frame.message.type;
      if (t === 'ReadEnd' || t === 'Error') this.streams.delete(id);
      stream.onFrame(frame);
      return;
    }
    if (id === 0 && frame.message.type === 'Error') {
      this.serverError = new PegasusError(frame.message.code, `server ${this.address}: ${errorCodeName(frame.message.code)}: ${frame.message.message}`);
      return;
    }
    this.counters.unmatchedFrames++;
  }

  private closedError(): PegasusError {
    return this.closeError ?? new PegasusError(ErrorCode.CONNECTION_CLOSED, `connection to ${this.address} closed`);
  }

  private onClose(code: number, reason: string): void {
    if (this.closeError !== undefined) return;
    const cause = this.serverError ?? this.socketError;
    const why = this.serverError !== undefined ? ` after ${this.serverError.message}`
      : this.socketError !== undefined ? `: ${this.socketError.message}` : '';
    this.fail(new PegasusError(ErrorCode.CONNECTION_CLOSED,
      `connection to ${this.address} closed (code ${code}${reason ? `, ${reason}` : ''})${why}`,
      cause === undefined ? undefined : { cause }));
  }

  /** Fails everything outstanding with `err` and closes the socket. Idempotent. */
  private fail(err: PegasusError): void {
    if (this.closeError !== undefined) return;
    this.closeError = err.wireCode === ErrorCode.CONNECTION_CLOSED ? err
      : new PegasusError(ErrorCode.CONNECTION_CLOSED, `connection to ${this.address} closed: ${err.message}`, { cause: err });
    const pending = [...this.pending.values()];
    const streams = [...this.streams.values()];
    this.pending.clear();
    this.streams.clear();
    this.sendQueue.length = 0;
    this.pushWaiters.length = 0;
    this.pushesInFlight = 0;
    for (const p of pending) {
      clearTimeout(p.timer);
      if (!p.zombie) p.reject(this.closeError);
    }
    for (const s of streams) s.onClose(this.closeError);
    const state = this.socket.readyState;
    if (state === WebSocket.OPEN) {
      this.socket.close(1000);
      const timer = setTimeout(() => this.socket.terminate(), CLOSE_TIMEOUT_MS);
      timer.unref();
      this.socket.once('close', () => clearTimeout(timer));
    } else if (state === WebSocket.CONNECTING) {
      this.socket.terminate();
    }
  }
}
