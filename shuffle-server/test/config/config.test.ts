import test from 'ava';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, renderConfigReference } from '../../src/config.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

test('CONFIG.md is current with the declared keys', (t) => {
  const committed = readFileSync(join(repo, 'shuffle-server', 'CONFIG.md'), 'utf8');
  t.is(committed, renderConfigReference(), 'run `npm run build && npm run config-doc` and commit shuffle-server/CONFIG.md');
});

test('embedded defaults run on a laptop', (t) => {
  const cfg = loadConfig({ argv: [], env: {} });
  t.is(cfg.host, '127.0.0.1');
  t.is(cfg.port, 9527);
  t.is(cfg.dataDir, './data');
});

test('precedence is defaults < file < environment < flags', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pegasus-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ port: 1000, dataDir: '/from/file', memoryBudgetBytes: '256MiB', pushWindow: 4 }));
  const cfg = loadConfig({ argv: ['--config', file, '--port', '3000'], env: { PEGASUS_PORT: '2000', PEGASUS_DATA_DIR: '/from/env' } });
  t.is(cfg.port, 3000);
  t.is(cfg.dataDir, '/from/env');
  t.is(cfg.memoryBudgetBytes, 256 * 1024 * 1024);
  t.is(cfg.pushWindow, 4);
});

test('bad config is a ConfigError naming the key', (t) => {
  t.throws(() => loadConfig({ argv: ['--port', 'abc'] }), { instanceOf: ConfigError, message: /port/ });
  t.throws(() => loadConfig({ argv: ['--no-such-key', '1'] }), { instanceOf: ConfigError, message: /no-such-key/ });
  t.throws(() => loadConfig({ argv: ['--memory-budget-bytes', '1k'] }), { instanceOf: ConfigError, message: /memoryBudgetBytes/ });
  t.throws(() => loadConfig({ argv: ['--log-level', 'loud'] }), { instanceOf: ConfigError });
  t.throws(() => loadConfig({ argv: ['--port'] }), { instanceOf: ConfigError });
});
