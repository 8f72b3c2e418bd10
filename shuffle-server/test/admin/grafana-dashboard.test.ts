// The Grafana dashboard (shuffle-server/dashboards/grafana-pegasus.json) only
// queries series a real server exposes, and takes its datasource as an input.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpGet, removeDir, startServer, stopServer } from '../helpers/server-process.js';

/** dist/shuffle-server/test/admin -> the repository root. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const DASHBOARD = join(ROOT, 'shuffle-server', 'dashboards', 'grafana-pegasus.json');

interface Panel { title: string; datasource: { uid: string }; targets: Array<{ expr: string }> }

test('every metric name used in the Grafana dashboard exists in a real server\'s /metrics', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { __inputs: Array<{ name: string; pluginId: string }>; panels: Panel[]; templating: { list: Array<{ definition: string }> } };
  t.deepEqual(dash.__inputs.map((i) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']]);
  const exprs = [...dash.panels.flatMap((p) => p.targets.map((x) => x.expr)), ...dash.templating.list.map((v) => v.definition)];
  for (const p of dash.panels) t.is(p.datasource.uid, '${DS_PROMETHEUS}', p.title);
  const names = new Set<string>();
  for (const e of exprs) for (const m of e.matchAll(/\b((?:pegasus|process|nodejs)_[a-zA-Z0-9_]+)/g)) names.add(m[1]!);
  t.true(names.size >= 20, `only ${names.size} metric names found`);
  for (const required of ['pegasus_push_bytes_total', 'pegasus_read_bytes_total', 'pegasus_push_latency_seconds_bucket', 'pegasus_errors_total', 'pegasus_ucx_read_plans_total', 'pegasus_tier_used_bytes', 'pegasus_memory_used_bytes', 'pegasus_apps', 'pegasus_shuffles']) {
    t.true(names.has(required), required);
  }
  for (const e of exprs.filter((x) => x.includes('_bucket'))) t.regex(e, /histogram_quantile\(/);
  const s = await startServer();
  try {
    const page = (await httpGet(s.address, '/metrics')).body;
    const exposed = new Set(page.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
    for (const n of names) t.true(exposed.has(n), `${n} is used by the dashboard but not in /metrics`);
  } finally {
    await stopServer(s);
    await removeDir(s.dataDir);
  }
});
