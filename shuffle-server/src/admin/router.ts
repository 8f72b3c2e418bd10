// The admin HTTP API, version 1 (ADMIN_API.md): routes under /api/v1/, the
// token check before any handler, body reading, and error -> status mapping.
//
// Thread contract: everything runs on the event loop. The uWS request object
// is read only in the synchronous part of the handler (method, URL, query,
// headers); the response is written through HttpExchange, which never writes
// after an abort and corks every write.
import type * as Uws from 'uWebSockets.js';
import { checkAppId } from '../../../schemas/ts/ids.js';
import { ErrorCode, PegasusError, toPegasusError } from '../errors.js';
import { HTTP_BODY_BYTES_MAX } from '../limits.js';
import { deleteApp, getApp, listApps } from './apps-handler.js';
import { authorized } from './auth.js';
import { postCleanup } from './cleanup-handler.js';
import type { AdminContext, AdminHandler, AdminRequest } from './context.js';
import { deleteDecommission, getDecommission, postDecommission } from './decommission-handler.js';
import { METHOD_NOT_ALLOWED } from './error-status.js';
import { getErrors } from './errors-handler.js';
import { HttpExchange } from './http-exchange.js';
import { parseJsonObject } from './json-body.js';
import { deleteShuffle, listShuffles } from './shuffles-handler.js';
import { getStatus } from './status-handler.js';
import { getQuotas, postQuota } from './quotas-handler.js';
import { postVerify } from './verify-handler.js';

export const ADMIN_PREFIX = '/api/v1/';

type Method = 'get' | 'post' | 'delete';

interface Route {
  /** Path segments after /api/v1/; ':name' segments are parameters. */
  segments: string[];
  methods: Partial<Record<Method, AdminHandler>>;
}

function route(path: string, methods: Route['methods']): Route {
  return { segments: path.split('/'), methods };
}

const ROUTES: Route[] = [
  route('status', { get: getStatus }),
  route('apps', { get: listApps }),
  route('apps/:appId', { get: getApp, delete: deleteApp }),
  route('apps/:appId/shuffles/:shuffleId', { delete: deleteShuffle }),
  route('shuffles', { get: listShuffles }),
  route('cleanup', { post: postCleanup }),
  route('decommission', { get: getDecommission, post: postDecommission, delete: deleteDecommission }),
  route('verify', { post: postVerify }),
  route('errors', { get: getErrors }),
  route('quotas', { get: getQuotas, post: postQuota }),
];

/** Decodes one path segment; INVALID_ID when it is not valid percent-encoding. */
function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new PegasusError(ErrorCode.INVALID_ID, `path segment ${JSON.stringify(raw.slice(0, 64))} is not valid percent-encoding`);
  }
}

/** The route of a path and its parameters; null when no route has the path. */
function match(path: string): { route: Route; params: Record<string, string> } | null {
  const parts = path.split('/');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash
  for (const r of ROUTES) {
    if (r.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const want = r.segments[i]!;
      if (want.startsWith(':')) params[want.slice(1)] = parts[i]!;
      else ok = want === parts[i];
    }
    if (!ok) continue;
    // Decoded only once the route matched; app ids are checked here, at the edge.
    for (const k of Object.keys(params)) {
      params[k] = decodeSegment(params[k]!);
      if (k === 'appId') checkAppId(params[k]);
    }
    return { route: r, params };
  }
  return null;
}

function parseQuery(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
  return out;
}

export class AdminRouter {
  constructor(private readonly ctx: AdminContext) {}

  /** Mounts every /api/v1/ route on the app. */
  mount(app: Uws.TemplatedApp): void {
    app.any(`${ADMIN_PREFIX}*`, (res, req) => this.onRequest(res, req));
  }

  private onRequest(res: Uws.HttpResponse, req: Uws.HttpRequest): void {
    const ex = new HttpExchange(res);
    try {
      // Everything of `req` is read here: it is invalid after this function returns.
      const method = req.getMethod().toLowerCase();
      const url = req.getUrl();
      const query = req.getQuery() ?? '';
      const authorization = req.getHeader('authorization');
      const contentLength = req.getHeader('content-length');
      if (!authorized(authorization, this.ctx.cfg.adminToken)) {
        ex.fail(new PegasusError(ErrorCode.UNAUTHORIZED, authorization === '' ? 'this server requires an admin token: send Authorization: Bearer <adminToken>' : 'the admin token is not valid'));
        return;
      }
      const found = match(url.slice(ADMIN_PREFIX.length));
      if (found === null) {
        ex.fail(new PegasusError(ErrorCode.NOT_FOUND, `no such endpoint: ${url.slice(0, 200)}`));
        return;
      }
      const handler = found.route.methods[method as Method];
      if (handler === undefined) {
        const allowed = Object.keys(found.route.methods).map((m) => m.toUpperCase()).join(', ');
        ex.fail(new PegasusError(ErrorCode.INVALID_ARGUMENT, `${method.toUpperCase()} is not served on ${url.slice(0, 200)}; use ${allowed}`), METHOD_NOT_ALLOWED);
        return;
      }
      const request: AdminRequest = { params: found.params, query: parseQuery(query), body: {} };
      const body = method === 'post' ? ex.readBody(contentLength, HTTP_BODY_BYTES_MAX) : Promise.resolve(null);
      void this.run(ex, handler, request, body);
    } catch (err) {
      ex.fail(err);
    }
  }

  private async run(ex: HttpExchange, handler: AdminHandler, request: AdminRequest, body: Promise<Buffer | null>): Promise<void> {
    try {
      const bytes = await body;
      if (bytes !== null) request.body = parseJsonObject(bytes);
      if (!ex.open) return; // aborted while the body was read: run nothing
      const result = await handler(this.ctx, request);
      ex.json('200 OK', result);
    } catch (err) {
      const e = toPegasusError(err);
      if (e.wireCode === ErrorCode.INTERNAL || e.wireCode === ErrorCode.STORAGE_IO) {
        this.ctx.log.error('admin request failed', { code: e.code, error: e.message });
      }
      ex.fail(e);
    }
  }
}
