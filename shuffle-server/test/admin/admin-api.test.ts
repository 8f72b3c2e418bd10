// The admin API (src/admin/ADMIN_API.md) against real server processes: every
// endpoint with real data, the token, and bad requests that must get coded
// answers while the server stays up.
import test from 'ava';
import { connect } from 'node:net';
import { ErrorCode } from '../../../schemas/ts/errors.js';
import { RawClient } from '../helpers/raw-client.js';
import { httpGet, removeDir, startServer, stopServer } from '../helpers/server-process.js';
import { checkRead, readRange } from '../helpers/shuffle-model.js';
import { api, badMetricLine, metricValue, register, writeCommitted } from './admin-helpers.js';

/** Sends raw bytes on a fresh connection and collects what comes back until the server closes it (or 5 s pass). */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { sock.destroy(); resolve(got); }, 5000);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d) => { got += d.toString(); });
    sock.on('close', () => { clearTimeout(timer); resolve(got); });
    sock.on('error', (err) => { clearTimeout(timer); if (got !== '') resolve(got); else reject(err); });
  });
}

test('every endpoint answers with real data pushed and committed', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-a', 1, 2, 4)).type, 'Ack');
    t.is((await register(c, 'app-a', 2, 1, 4)).type, 'Ack');
    t.is((await register(c, 'app-b', 7, 1, 2)).type, 'Ack');
    const a1 = [...await writeCommitted(c, 'app-a', 1, 0, 3, 4), ...await writeCommitted(c, 'app-a', 1, 1, 2, 4)];
    await writeCommitted(c, 'app-a', 2, 0, 2, 4);
    await writeCommitted(c, 'app-b', 7, 0, 1, 2);

    const status = await api(s.address, 'GET', '/api/v1/status');
    t.is(status.status, 200);
    t.is(status.body['apps'], 2);
    t.is(status.body['shuffles'], 3);
    t.is(status.body['port'], s.port);
    t.is(status.body['pid'], s.proc.pid);
    t.true((status.body['diskUsedBytes'] as number) > 0);
    t.is(status.body['connections'], 1);
    t.deepEqual(status.body['decommission'], { state: 'active', shuffles: 3 });
    const tiers = status.body['tiers'] as Array<Record<string, unknown>>;
    t.is(tiers.length, 1);
    t.is(tiers[0]!['kind'], 'disk');
    t.is(tiers[0]!['usedBytes'], status.body['diskUsedBytes']);
    for (const k of ['version', 'startedAtMs', 'uptimeMs', 'host', 'memory', 'native', 'ucx']) t.true(k in status.body, k);
    for (const k of ['budgetBytes', 'usedBytes', 'waitingBytes']) t.is(typeof (status.body['memory'] as Record<string, unknown>)[k], 'number');
    for (const k of ['enabled', 'port', 'reason', 'endpoints', 'registeredBytes']) t.true(k in (status.body['ucx'] as object), k);

    const apps = (await api(s.address, 'GET', '/api/v1/apps')).body['apps'] as Array<Record<string, unknown>>;
    t.deepEqual(apps.map((a) => [a['appId'], a['shuffles']]), [['app-a', 2], ['app-b', 1]]);
    t.true((apps[0]!['diskBytes'] as number) > 0);
    t.is(typeof apps[0]!['idleMs'], 'number');
    const one = await api(s.address, 'GET', '/api/v1/apps/app-a');
    t.is(one.status, 200);
    t.deepEqual(one.body['shuffleIds'], [1, 2]);
    t.is(one.body['diskBytes'], apps[0]!['diskBytes']);

    const all = (await api(s.address, 'GET', '/api/v1/shuffles')).body['shuffles'] as Array<Record<string, unknown>>;
    t.deepEqual(all.map((x) => `${x['appId']}/${x['shuffleId']}`), ['app-a/1', 'app-a/2', 'app-b/7']);
    const onlyA = (await api(s.address, 'GET', '/api/v1/shuffles?app=app-a')).body['shuffles'] as Array<Record<string, unknown>>;
    t.is(onlyA.length, 2);
    t.is(onlyA[0]!['committedMaps'], 2);
    t.is(onlyA[0]!['numMaps'], 2);
    t.is(onlyA[0]!['numPartitions'], 4);
    t.is(onlyA[0]!['bufferedBytes'], 0);
    t.true((onlyA[0]!['pushedBytes'] as number) > 0);
    for (const k of ['diskBytes', 'createdAtMs', 'lastActivityMs']) t.is(typeof onlyA[0]![k], 'number');

    // An error answered to a client shows up among the recent errors, newest first.
    const bad = await c.request({ type: 'OpenRead', appId: 'app-a', shuffleId: 99, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1024 });
    t.is(bad.message.type, 'Error');
    const bad2 = await c.request({ type: 'OpenRead', appId: 'app-zzz', shuffleId: 1, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1024 });
    t.is(bad2.message.type, 'Error');
    const errors = (await api(s.address, 'GET', '/api/v1/errors')).body['errors'] as Array<Record<string, unknown>>;
    t.is(errors.length, 2);
    t.is(errors[0]!['code'], 'UNKNOWN_APP');
    t.is(errors[1]!['code'], 'UNKNOWN_SHUFFLE');
    t.regex(errors[1]!['message'] as string, /app-a\/99/);
    t.true((errors[0]!['atMs'] as number) >= (errors[1]!['atMs'] as number));

    const verify = await api(s.address, 'POST', '/api/v1/verify', { body: {} });
    t.is(verify.status, 200);
    t.is(verify.body['shuffles'], 3);
    t.deepEqual(verify.body['errors'], []);
    t.true((verify.body['runs'] as number) > 0);

    const delShuffle = await api(s.address, 'DELETE', '/api/v1/apps/app-a/shuffles/2');
    t.is(delShuffle.status, 200);
    const removed = delShuffle.body['removed'] as Record<string, unknown>;
    t.is(removed['appId'], 'app-a');
    t.is(removed['shuffleId'], 2);
    t.true((removed['diskBytes'] as number) > 0);
    t.deepEqual((await api(s.address, 'GET', '/api/v1/apps/app-a')).body['shuffleIds'], [1]);
    // The other shuffle of the app still reads back exactly.
    t.is(checkRead(await readRange(c, 'app-a', 1, 0, 4, 0, 2), a1), null);

    const delApp = await api(s.address, 'DELETE', '/api/v1/apps/app-b');
    t.is(delApp.status, 200);
    t.is((delApp.body['removed'] as Record<string, unknown>)['shuffles'], 1);
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-b')).status, 404);
    const reread = await c.request({ type: 'OpenRead', appId: 'app-b', shuffleId: 7, partitionStart: 0, partitionEnd: 1, mapStart: 0, mapEnd: 1, creditBytes: 1024 });
    t.is(reread.message.type === 'Error' ? reread.message.code : -1, ErrorCode.UNKNOWN_APP);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('with adminToken set, a missing or wrong token is 401 UNAUTHORIZED and changes nothing', async (t) => {
  const token = 's3cret-token';
  const s = await startServer({ args: ['--admin-token', token] });
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-keep', 1, 1, 2)).type, 'Ack');
    for (const tok of [undefined, 'wrong', `${token}x`, token.slice(0, -1), '']) {
      const del = await api(s.address, 'DELETE', '/api/v1/apps/app-keep', { token: tok });
      t.is(del.status, 401, `token ${tok}`);
      t.is(del.body['code'], 'UNAUTHORIZED');
      const dec = await api(s.address, 'POST', '/api/v1/decommission', { token: tok });
      t.is(dec.status, 401);
      const clean = await api(s.address, 'POST', '/api/v1/cleanup', { token: tok, body: { orphans: true } });
      t.is(clean.status, 401);
    }
    t.is((await api(s.address, 'GET', '/api/v1/status', { headers: { Authorization: `Basic ${token}` } })).status, 401);
    // Nothing changed.
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-keep', { token })).status, 200);
    t.is((await api(s.address, 'GET', '/api/v1/decommission', { token })).body['state'], 'active');
    // /healthz and /metrics stay open.
    t.is((await httpGet(s.address, '/healthz')).status, 200);
    t.is((await httpGet(s.address, '/metrics')).status, 200);
    // The right token works.
    t.is((await api(s.address, 'DELETE', '/api/v1/apps/app-keep', { token })).status, 200);
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-keep', { token })).status, 404);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('removing or describing an app or shuffle that does not exist is 404 UNKNOWN_APP / UNKNOWN_SHUFFLE', async (t) => {
  const s = await startServer();
  try {
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-here', 1, 1, 2)).type, 'Ack');
    const cases: Array<[string, string, string]> = [
      ['DELETE', '/api/v1/apps/app-gone', 'UNKNOWN_APP'],
      ['GET', '/api/v1/apps/app-gone', 'UNKNOWN_APP'],
      ['GET', '/api/v1/shuffles?app=app-gone', 'UNKNOWN_APP'],
      ['DELETE', '/api/v1/apps/app-here/shuffles/5', 'UNKNOWN_SHUFFLE'],
      ['DELETE', '/api/v1/apps/app-gone/shuffles/1', 'UNKNOWN_SHUFFLE'],
    ];
    for (const [method, path, code] of cases) {
      const r = await api(s.address, method, path);
      t.is(r.status, 404, `${method} ${path}`);
      t.is(r.body['code'], code, `${method} ${path}`);
      t.is(typeof r.body['message'], 'string');
    }
    t.is((await api(s.address, 'GET', '/api/v1/apps/app-here')).status, 200);
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('malformed JSON, wrong field types, unknown fields, path-like ids and oversized bodies get coded 400/404/405/413 and the server stays up', async (t) => {
  const s = await startServer();
  try {
    const bad: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/v1/cleanup', '{"orphans": tru', 400, 'MALFORMED_FRAME'],
      ['POST', '/api/v1/cleanup', '[1,2]', 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/cleanup', '"text"', 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/cleanup', { orphans: 'yes' }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/cleanup', { orphans: true, dry_run: true }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/cleanup', {}, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/verify', { app: 5 }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/verify', { app: 'a', shuffle: -1 }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/verify', { app: 'a', shuffle: 1.5 }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/verify', { shuffle: 1 }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/api/v1/verify', { app: '../etc' }, 400, 'INVALID_ID'],
      ['POST', '/api/v1/verify', { app: 'nope' }, 404, 'UNKNOWN_APP'],
      ['POST', '/api/v1/decommission', { force: true }, 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/v1/apps/..%2F..%2Fetc', undefined, 400, 'INVALID_ID'],
      ['GET', '/api/v1/apps/%E0%A4%A', undefined, 400, 'INVALID_ID'],
      ['DELETE', '/api/v1/apps/a%2Fb', undefined, 400, 'INVALID_ID'],
      ['DELETE', '/api/v1/apps/app/shuffles/x1', undefined, 400, 'INVALID_ARGUMENT'],
      ['DELETE', '/api/v1/apps/app/shuffles/99999999999', undefined, 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/v1/no-such-thing', undefined, 404, 'NOT_FOUND'],
      ['GET', '/api/v2/status', undefined, 404, 'NOT_FOUND'],
      ['PUT', '/api/v1/status', undefined, 405, 'INVALID_ARGUMENT'],
      ['GET', '/api/v1/cleanup', undefined, 405, 'INVALID_ARGUMENT'],
      ['DELETE', '/api/v1/verify', undefined, 405, 'INVALID_ARGUMENT'],
    ];
    for (const [method, path, body, status, code] of bad) {
      const r = await api(s.address, method, path, { body });
      t.is(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      t.is(r.body['code'], code, `${method} ${path} ${JSON.stringify(body)}`);
    }
    // Oversized: declared up front (answered before the body is sent: the client
    // sends only headers, so no reset of unread bytes can hide the answer), and
    // streamed without a length.
    const declared = await rawHttp(s.port, `POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n{"app":`);
    t.regex(declared, /^HTTP\/1\.1 413 /);
    t.regex(declared, /"code":"MESSAGE_TOO_LARGE"/);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(32));
        controller.close();
      },
    });
    const streamed = await fetch(`http://${s.address}/api/v1/verify`, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit).catch((err: unknown) => err);
    if (streamed instanceof Response) {
      t.is(streamed.status, 413);
      t.is(((await streamed.json()) as Record<string, unknown>)['code'], 'MESSAGE_TOO_LARGE');
    } else {
      // The server may close the connection before the client finished sending: also fine.
      t.pass();
    }
    // A body right at the limit is read (and then judged as JSON).
    const atLimit = await api(s.address, 'POST', '/api/v1/cleanup', { body: `{"orphans":true,"dryRun":true}${' '.repeat(1024 * 1024 - 30)}` });
    t.is(atLimit.status, 200, atLimit.text);
    // Still up and answering.
    t.is((await httpGet(s.address, '/healthz')).status, 200);
    t.is((await api(s.address, 'GET', '/api/v1/status')).status, 200);
    t.is(s.proc.exitCode, null);
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});

test('latency histograms appear and move after pushes, commits, reads and flushes, and /metrics still parses', async (t) => {
  const s = await startServer();
  try {
    const before = (await httpGet(s.address, '/metrics')).body;
    t.is(badMetricLine(before), null);
    for (const h of ['push', 'commit', 'read', 'flush']) {
      t.regex(before, new RegExp(`^# TYPE pegasus_${h}_latency_seconds histogram$`, 'm'));
      t.is(metricValue(before, `pegasus_${h}_latency_seconds_count`), 0);
      t.is(metricValue(before, `pegasus_${h}_latency_seconds_bucket{le="+Inf"}`), 0);
    }
    for (const g of ['pegasus_flush_queue_depth', 'pegasus_decommissioning', 'pegasus_uptime_seconds']) t.not(metricValue(before, g), null, g);
    const c = await RawClient.connect(s.address);
    t.is((await register(c, 'app-m', 1, 1, 4)).type, 'Ack');
    const blocks = await writeCommitted(c, 'app-m', 1, 0, 4, 4);
    t.is(checkRead(await readRange(c, 'app-m', 1, 0, 4, 0, 1), blocks), null);
    const after = (await httpGet(s.address, '/metrics')).body;
    t.is(badMetricLine(after), null);
    t.is(metricValue(after, 'pegasus_push_latency_seconds_count'), 4);
    t.is(metricValue(after, 'pegasus_commit_latency_seconds_count'), 1);
    t.is(metricValue(after, 'pegasus_read_latency_seconds_count'), 1);
    t.true(metricValue(after, 'pegasus_flush_latency_seconds_count')! >= 1);
    t.true(metricValue(after, 'pegasus_commit_latency_seconds_sum')! > 0);
    t.is(metricValue(after, 'pegasus_push_latency_seconds_bucket{le="+Inf"}'), 4);
    // Buckets are cumulative.
    let last = 0;
    for (const line of after.split('\n').filter((l) => l.startsWith('pegasus_push_latency_seconds_bucket'))) {
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      t.true(v >= last, line);
      last = v;
    }
    t.is(metricValue(after, 'pegasus_decommissioning'), 0);
    t.is(metricValue(after, 'pegasus_flush_queue_depth'), 0);
    // Every series the README lists is still there.
    for (const name of ['pegasus_push_bytes_total', 'pegasus_push_blocks_total', 'pegasus_read_bytes_total', 'pegasus_read_blocks_total', 'pegasus_commits_total',
      'pegasus_memory_used_bytes', 'pegasus_memory_budget_bytes', 'pegasus_memory_waiting_bytes', 'pegasus_disk_used_bytes', 'pegasus_tier_used_bytes',
      'pegasus_apps', 'pegasus_shuffles', 'pegasus_connections', 'pegasus_errors_total', 'pegasus_ucx_read_plans_total', 'pegasus_flushes_total',
      'pegasus_push_buffers_idle_bytes', 'pegasus_push_buffers_reuse_ratio', 'pegasus_read_buffers_idle_bytes', 'pegasus_read_buffers_reuse_ratio']) {
      t.regex(after, new RegExp(`^${name}(\\{| )`, 'm'), name);
    }
    c.close();
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});
