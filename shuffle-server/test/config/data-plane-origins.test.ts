import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';

test('dataPlaneOrigins defaults to none', (t) => {
  t.deepEqual(loadConfig({ argv: [], env: {} }).dataPlaneOrigins, []);
});

test('dataPlaneOrigins from a flag or the environment is comma-separated; in the config file a JSON list', (t) => {
  t.deepEqual(loadConfig({ argv: ['--data-plane-origins', 'https://dash.example, http://10.0.0.5:8080'] }).dataPlaneOrigins,
    ['https://dash.example', 'http://10.0.0.5:8080']);
  t.deepEqual(loadConfig({ env: { PEGASUS_DATA_PLANE_ORIGINS: 'https://dash.example' } }).dataPlaneOrigins, ['https://dash.example']);
  const file = join(mkdtempSync(join(tmpdir(), 'pegasus-cfg-')), 'c.json');
  writeFileSync(file, JSON.stringify({ dataPlaneOrigins: ['https://a.example', 'https://b.example:444'] }));
  t.deepEqual(loadConfig({ argv: ['--config', file] }).dataPlaneOrigins, ['https://a.example', 'https://b.example:444']);
});

test('dataPlaneOrigins refuses what is not an origin as browsers send it', (t) => {
  for (const [value, why] of [
    ['https://dash.example/', /use https:\/\/dash\.example/],
    ['https://dash.example:443', /use https:\/\/dash\.example/],
    ['HTTPS://Dash.Example', /use https:\/\/dash\.example/],
    ['https://dash.example/app', /use https:\/\/dash\.example/],
    ['dash.example', /not a URL/],
    ['file:///tmp/x', /not an http\(s\) origin/],
  ] as const) {
    t.throws(() => loadConfig({ argv: ['--data-plane-origins', value] }), { instanceOf: ConfigError, message: new RegExp(`dataPlaneOrigins.*${why.source}`) }, value);
  }
  const file = join(mkdtempSync(join(tmpdir(), 'pegasus-cfg-')), 'c.json');
  writeFileSync(file, JSON.stringify({ dataPlaneOrigins: 'https://a.example' }));
  t.deepEqual(loadConfig({ argv: ['--config', file] }).dataPlaneOrigins, ['https://a.example'], 'a single string in the file is a list of one');
  writeFileSync(file, JSON.stringify({ dataPlaneOrigins: [7] }));
  t.throws(() => loadConfig({ argv: ['--config', file] }), { instanceOf: ConfigError, message: /origin 0 is not a string/ });
});
