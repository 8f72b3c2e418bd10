// The server's UCX transport: a UCX listener beside the WebSocket port (native
// UcxServer, its own progress thread). Segment memory that one-sided reads
// fetch from is mapped and registered by the engine (engine/segment-mappings.ts)
// through this listener's registrar, attached at start.
//
// Thread contract: event loop only.
import type { UcxServer } from '../../../native/binding.cjs';
import { fromNativeError } from '../../../native/ts/errors.js';
import { nativeBinding, nativeStatus } from '../../../native/ts/index.js';
import type { ServerConfig } from '../config.js';
import type { SegmentMappings } from '../engine/segment-mappings.js';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';

export interface UcxState {
  enabled: boolean;
  port: number;
  /** Why UCX is off; null when it runs. */
  reason: string | null;
}

export class UcxTransport {
  private closed = false;
  private readonly address: Buffer;

  private constructor(
    private readonly server: UcxServer,
    private readonly log: Logger,
  ) {
    this.address = server.workerAddress();
  }

  /**
   * Starts the UCX listener when configured and possible, and lets `mappings`
   * register segments with it. `ucx: 'auto'` runs without UCX (and says why)
   * when the native module is missing or UCX fails to start; `ucx: 'on'`
   * refuses to start the server then.
   */
  static async start(cfg: ServerConfig, log: Logger, metrics: ServerMetrics, mappings: SegmentMappings): Promise<{ transport: UcxTransport | null; state: UcxState }> {
    if (cfg.ucx === 'off') return { transport: null, state: { enabled: false, port: 0, reason: 'disabled by config (ucx off)' } };
    const binding = nativeBinding();
    let reason: string;
    if (binding === null) {
      reason = nativeStatus().reason ?? 'native module not loaded';
    } else {
      try {
        const server = await binding.UcxServer.start(cfg.ucxHost === '' ? cfg.host : cfg.ucxHost, cfg.ucxPort);
        let transport: UcxTransport;
        try {
          transport = new UcxTransport(server, log);
          transport.registerGauges(metrics, mappings);
          mappings.attach({
            register: async (path, length) => {
              try {
                return await server.register(path, length);
              } catch (err) {
                throw fromNativeError(err, ErrorCode.STORAGE_IO);
              }
            },
          });
        } catch (err) {
          await server.close();
          throw err;
        }
        return { transport, state: { enabled: true, port: server.port, reason: null } };
      } catch (err) {
        reason = `UCX listener failed to start: ${fromNativeError(err).message}`;
      }
    }
    if (cfg.ucx === 'on') throw new Error(`ucx is on but ${reason}`);
    return { transport: null, state: { enabled: false, port: 0, reason } };
  }

  get port(): number {
    return this.server.port;
  }

  /** The UCX worker address readers connect with (UCX then picks the lanes; see native/UCX.md). */
  get workerAddress(): Buffer {
    return this.address;
  }

  private registerGauges(metrics: ServerMetrics, mappings: SegmentMappings): void {
    const r = metrics.registry;
    r.gauge('pegasus_ucx_registered_bytes', 'Bytes of sealed segments mapped and registered with UCX.', () => mappings.bytes);
    r.gauge('pegasus_ucx_regions', 'Sealed segments registered with UCX.', () => mappings.count);
    r.gauge('pegasus_ucx_endpoints', 'Connected UCX endpoints (readers).', () => (this.closed ? 0 : this.server.stats().endpoints));
  }

  /** Closes the listener and every endpoint (the engine released its mappings first). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.server.close();
    } catch (err) {
      this.log.warn('UCX listener close failed', { error: fromNativeError(err).message });
    }
  }
}
