// The dashboard page (GET /) in headless Chromium against a real server under a
// real load: live throughput, memory, disk, the load's application, transport
// state; "server unreachable" once the server stops; the admin-token prompt.
// Chromium missing is a failure (scripts/setup-browser.sh installs it), not a skip.
import test from 'ava';
import { createHash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { Connection } from '../../../shuffle-client/src/connection.js';
import { registerShuffle } from '../../../shuffle-client/src/control.js';
import { ShuffleWriter } from '../../../shuffle-client/src/writer.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { launchChromium, newPage, screenshot, textOf, waitFor } from './browser.js';
import { BackgroundLoad } from './load.js';

let browser: Browser | undefined;
let server: ServerProcess | undefined;

test.before(async () => {
  browser = await launchChromium();
  server = await startServer();
});

test.after.always(async () => {
  await browser?.close();
  if (server !== undefined) {
    await stopServer(server);
    await removeDir(server.dataDir);
  }
});

const urlOf = (s: ServerProcess): string => `http://${s.address}/`;
const sha = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

test.serial('GET / is the HTML page, not cached, with a CSP allowing only its own inline script and style', async (t) => {
  const res = await fetch(urlOf(server!));
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
  t.is(res.headers.get('cache-control'), 'no-store');
  const html = await res.text();
  t.false(/(src|href)="(https?:)?\/\//.test(html), 'no external URLs');
  const csp = res.headers.get('content-security-policy') ?? '';
  const only = (tag: string): string => {
    t.is(html.split(`<${tag}`).length - 1, 1, `one <${tag}`);
    return html.slice(html.indexOf(`<${tag}>`) + tag.length + 2, html.indexOf(`</${tag}>`));
  };
  const script = only('script');
  const style = only('style');
  t.true(csp.includes("default-src 'none'"), csp);
  t.true(csp.includes(`script-src ${sha(script)}`), csp);
  t.true(csp.includes(`style-src ${sha(style)}`), csp);
  t.true(csp.includes("connect-src 'self'"), csp);
  t.false(csp.includes('unsafe-inline'), csp);
});

test.serial('under a real load the page shows changing throughput, memory, disk, the load\'s application and transport state', async (t) => {
  const appId = 'dash-load-app';
  const load = await BackgroundLoad.start(server!.address, { appId, durationMsMax: 90_000, pushedBytesMax: 1024 * 1024 * 1024, pauseMs: 20 });
  t.teardown(() => load.stop().then(() => undefined, () => undefined));
  const { page, problems } = await newPage(browser!);
  t.teardown(() => page.close());
  await page.goto(urlOf(server!));

  const state = await waitFor(() => page.getByTestId('status').getAttribute('data-state'), (s) => s === 'live', 10_000);
  t.is(state, 'live');
  const rateIn = async (): Promise<number> => Number(await page.getByTestId('throughput-in').getAttribute('data-value'));
  const first = await waitFor(rateIn, (v) => v > 0, 15_000);
  t.true(first > 0, `throughput in became ${first}; load so far ${JSON.stringify(load.stats)}`);
  await new Promise((r) => setTimeout(r, 3_000));
  const second = await waitFor(rateIn, (v) => v > 0 && v !== first, 5_000);
  t.true(second > 0 && second !== first, `throughput in ${first} then ${second}`);
  t.regex(await textOf(page, 'throughput-in'), /^\d+(\.\d+)?$/);
  t.regex(await textOf(page, 'total-in'), /^total \d/);
  t.true(Number(await page.getByTestId('throughput-out').getAttribute('data-value')) >= 0);

  t.true(Number(await textOf(page, 'apps-count')) >= 1, 'apps count');
  t.true(Number(await textOf(page, 'shuffles-count')) >= 1, 'shuffles count');
  const row = await waitFor(() => page.getByTestId('shuffle-row').filter({ hasText: appId }).count(), (n) => n > 0, 10_000);
  t.is(row, 1, `the shuffles table names ${appId}; note: ${await textOf(page, 'shuffles-note')}`);

  t.regex(await textOf(page, 'memory-used'), /^\d+(\.\d+)? (B|kB|MB|GB|TB)$/);
  t.regex(await textOf(page, 'memory-budget'), /^of \d+(\.\d+)? (B|kB|MB|GB|TB) budget$/);
  t.regex(await textOf(page, 'disk-used'), /^\d+(\.\d+)? (B|kB|MB|GB|TB)$/);
  t.true(await page.getByTestId('disk-tier').count() >= 1, 'one row per storage tier');
  t.regex(await textOf(page, 'native'), /^(loaded|not loaded)/);
  t.regex(await textOf(page, 'ucx'), /^(on|off)/);
  t.regex(await textOf(page, 'version'), /^v\d/);
  t.is(await textOf(page, 'health'), 'ok');
  // Let the sparkline collect a few points before the picture.
  await new Promise((r) => setTimeout(r, 4_000));
  const paths = await screenshot(page, 'dashboard-under-load');
  t.log(`screenshot: ${paths.join(', ')}`);
  t.deepEqual(problems, [], 'no console errors (a CSP violation would be one)');
  const stats = await load.stop();
  t.true(stats.maps > 0 && stats.readBytes > 0, JSON.stringify(stats));
});

test.serial('the page\'s Prometheus parser reads escaped quotes, backslashes and newlines in label values', async (t) => {
  const { page } = await newPage(browser!);
  t.teardown(() => page.close());
  await page.goto(urlOf(server!));
  const text = [
    '# HELP x_total A counter.',
    '# TYPE x_total counter',
    'x_total{code="A\\"B",path="c:\\\\d",msg="l1\\nl2"} 3',
    'x_total{code="plain", empty=""} 4.5e3 1700000000000',
    'y_bytes 9007199254740991',
    'z NaN',
    'w +Inf',
    'broken{code="unterminated} 1',
    '',
  ].join('\n');
  const parsed = await page.evaluate((s) => {
    const m = (globalThis as unknown as { pegasusDashboard: { parseProm: (s: string) => Map<string, Array<{ labels: Record<string, string>; value: number }>> } })
      .pegasusDashboard.parseProm(s);
    return [...m.entries()].map(([k, v]) => [k, v.map((x) => ({ labels: x.labels, value: String(x.value) }))]);
  }, text);
  t.deepEqual(parsed, [
    ['x_total', [
      { labels: { code: 'A"B', path: 'c:\\d', msg: 'l1\nl2' }, value: '3' },
      { labels: { code: 'plain', empty: '' }, value: '4500' },
    ]],
    ['y_bytes', [{ labels: {}, value: '9007199254740991' }]],
    ['z', [{ labels: {}, value: 'NaN' }]],
    ['w', [{ labels: {}, value: 'Infinity' }]],
  ]);
});

// Last in this file: it stops the shared server.
test.serial('the page says server unreachable once the server stops, and backs off', async (t) => {
  const { page } = await newPage(browser!);
  t.teardown(() => page.close());
  const requests: number[] = [];
  page.on('request', (r) => { if (r.url().endsWith('/metrics')) requests.push(Date.now()); });
  await page.goto(urlOf(server!));
  t.is(await waitFor(() => page.getByTestId('status').getAttribute('data-state'), (s) => s === 'live', 10_000), 'live');
  await stopServer(server!);
  const state = await waitFor(() => page.getByTestId('status').getAttribute('data-state'), (s) => s === 'unreachable', 15_000);
  t.is(state, 'unreachable');
  t.regex(await textOf(page, 'status'), /server unreachable/);
  const stoppedAt = Date.now();
  await new Promise((r) => setTimeout(r, 8_000));
  const after = requests.filter((at) => at >= stoppedAt).length;
  t.true(after <= 4, `${after} /metrics attempts in 8 s while unreachable: no back-off`);
  await screenshot(page, 'dashboard-unreachable');
});

test.serial('with --admin-token the page asks for the token, refuses a wrong one, and shows the shuffles after the right one', async (t) => {
  const token = 'dash-test-token-X';
  const s = await startServer({ args: ['--admin-token', token] });
  t.teardown(async () => { await stopServer(s); await removeDir(s.dataDir); });
  const appId = 'dash-token-app';
  const conn = await Connection.connect(s.address);
  t.teardown(() => conn.close());
  await registerShuffle(conn, { appId, shuffleId: 1, numMaps: 1, numPartitions: 2 });
  const w = new ShuffleWriter({ connection: conn, appId, shuffleId: 1, mapId: 0, attempt: 0, numPartitions: 2 });
  for (let i = 0; i < 100; i++) w.write(i % 2, Buffer.from(`record-${i}`));
  await w.close();

  const { page, problems } = await newPage(browser!);
  t.teardown(() => page.close());
  const auth: string[] = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/')) auth.push(r.headers()['authorization'] ?? ''); });
  await page.goto(urlOf(s));
  const card = page.getByTestId('token-card');
  await card.waitFor({ state: 'visible', timeout: 10_000 });
  t.is(await card.getAttribute('data-state'), 'needed');
  t.true(Number(await textOf(page, 'apps-count')) >= 1, '/metrics needs no token');
  t.is(await page.getByTestId('shuffle-row').count(), 0);

  await page.getByTestId('token-input').fill('wrong-token');
  await page.getByTestId('token-submit').click();
  t.is(await waitFor(() => card.getAttribute('data-state'), (v) => v === 'rejected', 10_000), 'rejected');
  t.regex(await textOf(page, 'token-message'), /refused/);

  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('token-submit').click();
  await card.waitFor({ state: 'hidden', timeout: 10_000 });
  const rows = await waitFor(() => page.getByTestId('shuffle-row').filter({ hasText: appId }).count(), (n) => n > 0, 10_000);
  t.is(rows, 1);
  t.is(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem: (k: string) => string | null } }).sessionStorage.getItem('pegasus.adminToken')), token);
  t.true(auth.includes(`Bearer ${token}`), 'the page sent the token as a Bearer header');
  t.false(auth.some((h) => h !== '' && !h.startsWith('Bearer ')), JSON.stringify(auth));
  await screenshot(page, 'dashboard-with-token');
  t.deepEqual(problems.filter((p) => !/401|Unauthorized/i.test(p)), []);
});
