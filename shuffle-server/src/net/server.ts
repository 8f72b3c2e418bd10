// The network front: one uWS app on one port serving the binary WebSocket data
// plane at /ws, the HTTP endpoints /healthz and /metrics, and the admin API
// under /api/v1/ (admin/router.ts, ADMIN_API.md).
import type * as Uws from 'uWebSockets.js';
import { PEGASUS_VERSION } from '../../../schemas/ts/version.js';
import type { ServerConfig } from '../config.js';
import { ErrorCode, PegasusError } from '../errors.js';
import { CONNECTIONS_MAX, FRAME_BYTES_MAX, SOCKET_BACKPRESSURE_BYTES_MAX } from '../limits.js';
import { AdminRouter } from '../admin/router.js';
import type { Logger } from '../logger.js';
import { ServerMetrics } from '../metrics.js';
import { serveDashboard } from '../admin/dashboard.js';
import { Engine } from '../engine/engine.js';
import { ShuffleService } from '../shuffle/shuffle-service.js';
import { ObjectService } from '../objects/object-service.js';
import { nativeStatus } from '../../../native/ts/index.js';
import { crc32cImplementation } from '../../../native/ts/crc32c.js';
import { Session, type SessionData } from './session.js';
import { UcxTransport, type UcxState } from './ucx-transport.js';
import { guardedRemote, loadUws } from './uws.js';

export class PegasusServer {
  private listenSocket: Uws.us_listen_socket | null = null;
  private readonly sessions = new Set<Session>();
  private boundPort = 0;
  private stopped: Promise<void> | null = null;

  private constructor(
    private readonly cfg: ServerConfig,
    private readonly log: Logger,
    private readonly uws: ReturnType<typeof loadUws>,
    readonly service: ShuffleService,
    readonly objects: ObjectService,
    readonly metrics: ServerMetrics,
    private readonly ucx: UcxTransport | null,
    readonly ucxState: UcxState,
  ) {}

  static async start(cfg: ServerConfig, log: Logger): Promise<PegasusServer> {
    const uws = loadUws(cfg.frameGuard === 'on');
    const metrics = new ServerMetrics();
    const native = nativeStatus();
    // Said once, here: everything else reads nativeStatus() and ucxState.
    if (native.loaded) log.info('native module loaded', { path: native.path, crc32c: crc32cImplementation });
    else log.warn('native module not loaded; running over WebSocket only with portable CRC32C', { reason: native.reason });
    const engine = await Engine.open(cfg, log.child({ component: 'engine' }), metrics);
    let service: ShuffleService;
    let objects: ObjectService;
    try {
      service = await ShuffleService.open(cfg, engine, log.child({ component: 'shuffle' }), metrics);
      objects = await ObjectService.open(cfg, engine, log.child({ component: 'objects' }), metrics);
      await engine.start();
    } catch (err) {
      engine.beginStop(err instanceof Error ? err : new Error(String(err)));
      await engine.close().catch(() => undefined);
      throw err;
    }
    let ucx: { transport: UcxTransport | null; state: UcxState };
    try {
      ucx = await UcxTransport.start(cfg, log.child({ component: 'ucx' }), metrics, engine.mappings);
    } catch (err) {
      await objects.stop();
      await service.stop();
      throw err;
    }
    if (ucx.transport !== null) log.info('UCX listener started', { port: ucx.state.port });
    else if (cfg.ucx !== 'off') log.warn('UCX read path unavailable; readers use WebSocket', { reason: ucx.state.reason });
    const server = new PegasusServer(cfg, log, uws, service, objects, metrics, ucx.transport, ucx.state);
    server.registerGauges();
    try {
      await server.listen();
    } catch (err) {
      await ucx.transport?.close();
      await objects.stop();
      await service.stop();
      throw err;
    }
    return server;
  }

  get port(): number {
    return this.boundPort;
  }

  /** What /healthz says about the native module and UCX. */
  private transportHealth(): Record<string, unknown> {
    const native = nativeStatus();
    return {
      native: { loaded: native.loaded, reason: native.reason, crc32c: crc32cImplementation },
      ucx: { enabled: this.ucxState.enabled, port: this.ucxState.port, reason: this.ucxState.reason },
    };
  }

  private registerGauges(): void {
    const r = this.metrics.registry;
    const svc = this.service;
    const budget = svc.engine.budget;
    r.gauge('pegasus_memory_used_bytes', 'Bytes of buffered pushed blocks held in memory.', () => budget.used);
    r.gauge('pegasus_memory_budget_bytes', 'The memory budget for buffered blocks.', () => budget.budgetBytes);
    r.gauge('pegasus_memory_waiting_bytes', 'Bytes of pushes waiting for room in the memory budget.', () => budget.waiting);
    r.gauge('pegasus_memory_inflight_reserve_bytes', 'Budget kept free for pushes the connections\' windows may still send.', () => budget.inflightReserve);
    const pool = svc.engine.pushBuffers;
    r.gauge('pegasus_push_buffers_idle_bytes', 'Bytes of idle push buffers kept for reuse (within the budget\'s free room).', () => pool.idleBytes);
    r.gauge('pegasus_push_buffers_reuse_ratio', 'Fraction of pushes copied into a reused buffer rather than a fresh one.', () => pool.reuseRatio);
    const reads = svc.engine.readBuffers;
    r.gauge('pegasus_read_buffers_idle_bytes', 'Bytes of idle read window buffers kept for reuse (at most 32 MiB).', () => reads.idleBytes);
    r.gauge('pegasus_read_buffers_reuse_ratio', 'Fraction of read windows read into a reused buffer rather than a fresh one.', () => reads.reuseRatio);
    r.gauge('pegasus_apps', 'Registered applications.', () => svc.apps.size);
    r.gauge('pegasus_shuffles', 'Registered shuffles.', () => svc.apps.shuffleCount);
    r.gauge('pegasus_disk_used_bytes', 'Bytes of segment files on disk.', () => svc.diskBytes());
    r.gauge('pegasus_connections', 'Open WebSocket connections.', () => this.sessions.size);
    r.gauge('process_resident_memory_bytes', 'Resident set size of the server process.', () => process.memoryUsage.rss());
    r.gauge('nodejs_heap_used_bytes', 'V8 heap in use.', () => process.memoryUsage().heapUsed);
    r.gauge('nodejs_external_memory_bytes', 'Memory of Buffers and other objects outside the V8 heap.', () => process.memoryUsage().external);
  }

  private listen(): Promise<void> {
    const app = this.uws.App();
    app.ws<SessionData>('/ws', {
      compression: this.uws.DISABLED,
      // Frames up to a MiB over the limit still arrive, so they can be refused
      // with a coded error (MESSAGE_TOO_LARGE). uWS would drop a larger frame or
      // message without a close frame; the frame guard (uws.ts) refuses it
      // first, with close code 1009.
      maxPayloadLength: FRAME_BYTES_MAX + 1024 * 1024,
      maxBackpressure: SOCKET_BACKPRESSURE_BYTES_MAX,
      closeOnBackpressureLimit: 0,
      idleTimeout: Math.max(8, Math.round(this.cfg.idleTimeoutMs / 1000)),
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        // Every header is read first: req is valid only until the handler answers.
        const remote = this.cfg.frameGuard === 'on' ? guardedRemote(req) : Buffer.from(res.getRemoteAddressAsText()).toString();
        const origin = req.getHeader('origin');
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const refuse = (status: string, err: PegasusError): void => {
          this.metrics.error(err.wireCode, err.message);
          res.writeStatus(status).writeHeader('Content-Type', 'application/json')
            .end(JSON.stringify({ code: err.code, message: err.message }), true);
        };
        if (remote === null) {
          // The frame guard checks only a connection's first request.
          refuse('400 Bad Request', new PegasusError(ErrorCode.INVALID_ARGUMENT, 'a WebSocket upgrade must be the first request on its connection'));
          return;
        }
        // Browsers always send Origin and may be made to open a WebSocket to any
        // address by any page; the clients of the data plane send none.
        if (origin !== '' && !this.cfg.dataPlaneOrigins.includes(origin)) {
          refuse('403 Forbidden', new PegasusError(ErrorCode.UNAUTHORIZED, `origin ${origin.slice(0, 200)} may not open the data plane (config dataPlaneOrigins)`));
          return;
        }
        if (this.sessions.size >= CONNECTIONS_MAX || this.service.isStopping) {
          res.writeStatus('503 Service Unavailable').end(this.service.isStopping ? 'SHUTTING_DOWN' : 'LIMIT_EXCEEDED');
          return;
        }
        res.upgrade<SessionData>({ session: null, remote }, key, protocol, extensions, context);
      },
      open: (ws) => {
        const session = new Session(ws, this.service, this.objects, this.cfg, this.metrics, this.log.child({ component: 'net' }), this.ucx);
        ws.getUserData().session = session;
        this.sessions.add(session);
      },
      message: (ws, message, isBinary) => {
        ws.getUserData().session?.onMessage(message, isBinary);
      },
      drain: (ws) => {
        ws.getUserData().session?.onDrain();
      },
      close: (ws) => {
        const s = ws.getUserData().session;
        if (s !== null) {
          s.onClose();
          this.sessions.delete(s);
        }
      },
    });
    app.get('/healthz', (res) => {
      const ok = !this.service.isStopping;
      res.writeStatus(ok ? '200 OK' : '503 Service Unavailable')
        .writeHeader('Content-Type', 'application/json')
        .end(JSON.stringify({ status: ok ? 'ok' : 'stopping', version: PEGASUS_VERSION, decommission: this.service.decommissionState, ...this.transportHealth() }));
    });
    app.get('/metrics', (res) => {
      res.writeHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8').end(this.metrics.registry.render());
    });
    new AdminRouter({
      cfg: this.cfg,
      service: this.service,
      objects: this.objects,
      metrics: this.metrics,
      log: this.log.child({ component: 'admin' }),
      port: () => this.boundPort,
      connections: () => this.sessions.size,
      ucxState: () => this.ucxState,
    }).mount(app);
    app.get('/', (res) => serveDashboard(res));
    app.any('/*', (res, req) => {
      const url = req.getUrl();
      res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json')
        .end(JSON.stringify({ code: 'NOT_FOUND', message: `no such endpoint: ${url}` }));
    });
    return new Promise((resolve, reject) => {
      app.listen(this.cfg.host, this.cfg.port, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${this.cfg.host}:${this.cfg.port}`));
          return;
        }
        this.listenSocket = socket;
        this.boundPort = this.uws.us_socket_local_port(socket as unknown as Uws.us_socket);
        resolve();
      });
    });
  }

  /** Graceful stop: no new connections or pushes, flush and sync, close the index. */
  stop(): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.stopped = (async () => {
      if (this.listenSocket !== null) this.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
      // Objects first: their writers end before the engine below them closes (ShuffleService.stop).
      await this.objects.stop();
      await this.service.stop();
      for (const s of this.sessions) s.onClose();
      this.sessions.clear();
      await this.ucx?.close();
    })();
    return this.stopped;
  }
}
