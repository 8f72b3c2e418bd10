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

test('tiers default to unset: one disk tier at dataDir', (t) => {
  t.is(loadConfig({ argv: [], env: {} }).tiers, null);
});

test('tiers from a flag or the environment use the compact kind:path:capacity form', (t) => {
  const cfg = loadConfig({ argv: ['--tiers', 'pmem:/mnt/pmem0/pegasus:64g,nvme:/data/pegasus:1t'] });
  t.deepEqual(cfg.tiers, [
    { kind: 'pmem', path: '/mnt/pmem0/pegasus', capacityBytes: 64 * 1024 ** 3 },
    { kind: 'nvme', path: '/data/pegasus', capacityBytes: 1024 ** 4 },
  ]);
  const env = loadConfig({ env: { PEGASUS_TIERS: 'hdd:/a:b:c:512MiB' } });
  t.deepEqual(env.tiers, [{ kind: 'hdd', path: '/a:b:c', capacityBytes: 512 * 1024 ** 2 }], 'the path is what lies between the first and last colon');
});

test('tiers in the config file are a JSON list; the flag may be JSON too', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pegasus-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ tiers: [{ kind: 'pmem', path: '/mnt/pmem0/pegasus', capacityBytes: '64g' }, { kind: 'ssd', path: '/ssd', capacityBytes: 1073741824 }] }));
  t.deepEqual(loadConfig({ argv: ['--config', file] }).tiers, [
    { kind: 'pmem', path: '/mnt/pmem0/pegasus', capacityBytes: 64 * 1024 ** 3 },
    { kind: 'ssd', path: '/ssd', capacityBytes: 1024 ** 3 },
  ]);
  t.deepEqual(loadConfig({ argv: ['--tiers', '[{"kind":"hdd","path":"/h","capacityBytes":"2t"}]'] }).tiers, [{ kind: 'hdd', path: '/h', capacityBytes: 2 * 1024 ** 4 }]);
});

test('bad tiers are a ConfigError that says what is wrong with which tier', (t) => {
  const bad = (value: string, message: RegExp) => t.throws(() => loadConfig({ argv: ['--tiers', value] }), { instanceOf: ConfigError, message }, value);
  bad('tape:/t:1g', /tier 0 kind "tape" is not one of pmem, nvme, ssd, hdd, disk/);
  bad('pmem:/p', /tier 0 "pmem:\/p" is not kind:path:capacity/);
  bad('pmem::64g', /tier 0 has no path/);
  bad('pmem:/p:lots', /tier 0 \(\/p\) capacityBytes "lots" is not a byte size/);
  bad('pmem:/p:64g,nvme:/p:1t', /tiers 0 and 1 are the same directory/);
  bad('pmem:/p:1m', /tier 0 \(pmem:\/p\) capacity 1048576 bytes is below segmentBytesMax/);
  bad('[{"kind":"pmem","path":"/p","capacityBytes":"1g","speed":"fast"}]', /unknown field speed/);
  bad('[]', /non-empty list/);
  bad('[{"kind":"pmem"', /not valid JSON/);
  bad(Array.from({ length: 9 }, (_, i) => `ssd:/s${i}:1g`).join(','), /9 tiers, at most 8/);
});
