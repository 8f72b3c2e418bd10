// What admin handlers may see of the server. The router gets one of these from
// net/server.ts; handlers get it with each request.
import type { ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { ShuffleService } from '../shuffle/shuffle-service.js';
import type { ObjectService } from '../objects/object-service.js';

export interface AdminContext {
  readonly cfg: ServerConfig;
  readonly service: ShuffleService;
  /** The file namespace (objects tenant). */
  readonly objects: ObjectService;
  readonly metrics: ServerMetrics;
  readonly log: Logger;
  /** The bound port (cfg.port may be 0). */
  port(): number;
  /** Open WebSocket connections. */
  connections(): number;
  /** UCX as /healthz reports it. */
  ucxState(): { enabled: boolean; port: number; reason: string | null };
}

/** What a handler gets: decoded path parameters, query values, and the parsed body (POST only, else {}). */
export interface AdminRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  body: Record<string, unknown>;
}

export type AdminHandler = (ctx: AdminContext, req: AdminRequest) => unknown;
