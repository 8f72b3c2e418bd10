// HTTP client of one server's admin API (shuffle-server/src/admin/ADMIN_API.md)
// and of /metrics. Every request has a timeout; every failure becomes a
// CtlError with a code: the server's own `{code, message}`, CONNECTION_CLOSED
// when nothing answers, TIMEOUT when the answer is late, MESSAGE_TOO_LARGE when
// it is longer than RESPONSE_BYTES_MAX.
import { request as httpRequest } from 'node:http';
import { CtlError } from './failure.js';
import { RESPONSE_BYTES_MAX } from './limits.js';

export type Method = 'GET' | 'POST' | 'DELETE';

/** The code a bare HTTP status stands for, when the body carries none (ADMIN_API.md "Errors"). */
function codeOfStatus(status: number): string {
  if (status === 400) return 'INVALID_ARGUMENT';
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 413) return 'MESSAGE_TOO_LARGE';
  if (status === 503) return 'SHUTTING_DOWN';
  return 'INTERNAL';
}

export class AdminClient {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  get<T>(path: string, timeoutMs?: number): Promise<T> {
    return this.json<T>('GET', path, undefined, timeoutMs);
  }

  post<T>(path: string, body: unknown = {}, timeoutMs?: number): Promise<T> {
    return this.json<T>('POST', path, body, timeoutMs);
  }

  delete<T>(path: string, timeoutMs?: number): Promise<T> {
    return this.json<T>('DELETE', path, undefined, timeoutMs);
  }

  /** GET of a text resource (/metrics). */
  async text(path: string, timeoutMs?: number): Promise<string> {
    const { status, body } = await this.send('GET', path, undefined, timeoutMs);
    if (status !== 200) throw this.errorOf(status, body);
    return body;
  }

  private async json<T>(method: Method, path: string, body: unknown, timeoutMs?: number): Promise<T> {
    const res = await this.send(method, path, body, timeoutMs);
    if (res.status < 200 || res.status > 299) throw this.errorOf(res.status, res.body);
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new CtlError('MALFORMED_FRAME', `${this.server}: ${method} ${path} answered ${res.status} with a body that is not JSON (${res.body.length} bytes)`);
    }
  }

  private errorOf(status: number, body: string): CtlError {
    let code = codeOfStatus(status);
    let message = `HTTP ${status}`;
    try {
      const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
      if (typeof parsed.code === 'string' && parsed.code.length > 0) code = parsed.code;
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      if (body.length > 0) message = `HTTP ${status}: ${body.slice(0, 200)}`;
    }
    return new CtlError(code, `${this.server}: ${message}`);
  }

  /**
   * One request over node:http rather than fetch(): fetch refuses the ports of
   * the WHATWG "bad ports" list (1, 6000, 10080...), which are legal server ports.
   */
  private send(method: Method, path: string, body: unknown, timeoutMs = this.timeoutMs): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined && this.token.length > 0) headers['authorization'] = `Bearer ${this.token}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const { host, port } = splitAddress(this.server);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: CtlError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new CtlError('TIMEOUT', `${this.server}: ${method} ${path} got no answer in ${timeoutMs} ms`)), timeoutMs);
      const req = httpRequest({ host, port, method, path, headers, agent: false }, (res) => {
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (declared > RESPONSE_BYTES_MAX) {
          fail(new CtlError('MESSAGE_TOO_LARGE', `${this.server}: answer of ${declared} bytes exceeds ${RESPONSE_BYTES_MAX} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > RESPONSE_BYTES_MAX) fail(new CtlError('MESSAGE_TOO_LARGE', `${this.server}: answer exceeds ${RESPONSE_BYTES_MAX} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => fail(this.transportError(err, method, path)));
      });
      req.on('error', (err) => fail(this.transportError(err, method, path)));
      req.end(payload);
    });
  }

  private transportError(err: unknown, method: Method, path: string): CtlError {
    const code = (err as { code?: unknown }).code;
    const detail = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
    return new CtlError('CONNECTION_CLOSED', `${this.server}: ${method} ${path} failed: ${detail}`, { cause: err });
  }
}

/** "host:port" or "[v6]:port" (checked by args.ts) into node:http's host and port. */
function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(i + 1)) };
}
