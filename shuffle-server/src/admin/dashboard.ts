// GET /: the live dashboard page (dashboard.html beside this file's source). The
// page is read once, on the first request, and served from memory. Its one inline
// <script> and one inline <style> are allowed by SHA-256 hashes in a strict
// Content-Security-Policy, computed here from the bytes served, so the page can
// be edited without touching this file and nothing else can run in it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Uws from 'uWebSockets.js';

export interface DashboardPage {
  body: Buffer;
  /** Response headers, Content-Type first. */
  headers: Array<[string, string]>;
}

/** shuffle-server/src/admin/ in the source tree, from dist/shuffle-server/src/admin/ or itself. */
function sourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const inDist = here.includes(join('dist', 'shuffle-server', 'src', 'admin'));
  return inDist ? resolve(here, '..', '..', '..', '..', 'shuffle-server', 'src', 'admin') : here;
}

export const DASHBOARD_HTML_PATH = join(sourceDir(), 'dashboard.html');

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The text of the only <tag>…</tag> element of the page; the page must have exactly one. */
function onlyElement(html: string, tag: 'script' | 'style'): string {
  // Counted by the opening text alone, so a tag spelled in a comment or with
  // attributes cannot make the hash cover other bytes than the browser runs.
  const opens = html.split(`<${tag}`).length - 1;
  const start = html.indexOf(`<${tag}>`);
  const end = html.indexOf(`</${tag}>`, start);
  if (opens !== 1 || start < 0 || end < 0) {
    throw new Error(`dashboard.html must hold exactly one <${tag}> element without attributes, and that tag nowhere else; found ${opens} openings`);
  }
  return html.slice(start + tag.length + 2, end);
}

/** Builds the page and its headers from the HTML text. Exported for tests. */
export function buildDashboard(html: string): DashboardPage {
  const csp = [
    "default-src 'none'",
    `script-src ${sha256Source(onlyElement(html, 'script'))}`,
    `style-src ${sha256Source(onlyElement(html, 'style'))}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    body: Buffer.from(html, 'utf8'),
    headers: [
      ['Content-Type', 'text/html; charset=utf-8'],
      ['Cache-Control', 'no-store'],
      ['Content-Security-Policy', csp],
      ['X-Content-Type-Options', 'nosniff'],
      ['Referrer-Policy', 'no-referrer'],
    ],
  };
}

let page: DashboardPage | Error | null = null;

/** The page, read and built on first use; a failure is kept too, so it is not retried per request. */
export function dashboardPage(): DashboardPage | Error {
  if (page === null) {
    try {
      page = buildDashboard(readFileSync(DASHBOARD_HTML_PATH, 'utf8'));
    } catch (err) {
      page = err instanceof Error ? err : new Error(String(err));
    }
  }
  return page;
}

/** The uWS handler for GET /. Answers synchronously, so it needs no onAborted. */
export function serveDashboard(res: Uws.HttpResponse): void {
  const p = dashboardPage();
  if (p instanceof Error) {
    res.writeStatus('500 Internal Server Error').writeHeader('Content-Type', 'application/json')
      .end(JSON.stringify({ code: 'INTERNAL', message: `dashboard unavailable: ${p.message}` }));
    return;
  }
  res.writeStatus('200 OK');
  for (const [k, v] of p.headers) res.writeHeader(k, v);
  res.end(p.body);
}
